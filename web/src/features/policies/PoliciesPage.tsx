// The backup policies: what each selects, where it writes and when; admins create, edit and
// delete the ones not managed by the config file; operators run one now.

import { Anchor, Badge, Button, Group, Table, Text } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate } from 'react-router';
import { api, call, type Policy } from '../../api/index.ts';
import { useCan } from '../../app/useCan.ts';
import { Empty, ErrorNotice, Loading, PageHeader } from '../../ui/index.ts';

function retentionText(p: Policy): string {
  const r = p.spec.retention;
  if (!r) return 'keep all';
  return Object.entries(r).filter(([, n]) => n).map(([k, n]) => `${n} ${k.replace(/^keep/, '').toLowerCase()}`).join(', ');
}

function PolicyRow({ policy }: { policy: Policy }) {
  const can = useCan();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const runNow = useMutation({
    mutationFn: () => call(api.POST('/api/v1/jobs', { body: { kind: 'backup', policy: policy.name } })),
    onSuccess: (job) => navigate(`/jobs/${job.id}`),
  });
  const remove = useMutation({
    mutationFn: () => call(api.DELETE('/api/v1/policies/{name}', { params: { path: { name: policy.name } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['policies'] }),
  });
  const editable = !policy.managedByConfig;
  return (
    <Table.Tr>
      <Table.Td><Text fw={600}>{policy.name}</Text>{policy.managedByConfig && <Badge variant="default" size="xs">config file</Badge>}</Table.Td>
      <Table.Td>{policy.enabled ? 'yes' : 'no'}</Table.Td>
      <Table.Td>
        {policy.spec.vms.join(', ')}
        <Text size="xs">{policy.status.vmCount} VM{policy.status.vmCount === 1 ? '' : 's'} now</Text>
        {policy.status.state !== 'ok' && <Text size="xs" c="red.9">{statusProblem(policy.status)}</Text>}
      </Table.Td>
      <Table.Td>{policy.spec.repositories.join(', ')}</Table.Td>
      <Table.Td><code>{policy.spec.schedule}</code>{policy.spec.timezone ? ` ${policy.spec.timezone}` : ''}</Table.Td>
      <Table.Td>{policy.spec.rpo ?? '—'}</Table.Td>
      <Table.Td>{retentionText(policy)}</Table.Td>
      <Table.Td>
        <Group gap="xs" wrap="nowrap">
          {can('POST /api/v1/jobs') && <Button size="xs" loading={runNow.isPending} onClick={() => runNow.mutate()} aria-label={`Run now: ${policy.name}`}>Run now</Button>}
          {editable && can('PUT /api/v1/policies/{name}') && <Button size="xs" variant="default" component={Link} to={`/policies/${encodeURIComponent(policy.name)}/edit`} aria-label={`Edit ${policy.name}`}>Edit</Button>}
          {editable && can('DELETE /api/v1/policies/{name}') && (
            <Button size="xs" color="red" loading={remove.isPending} aria-label={`Delete ${policy.name}`}
              onClick={() => { if (window.confirm(`Delete policy ${policy.name}? Its jobs and backups stay.`)) remove.mutate(); }}>Delete</Button>
          )}
        </Group>
        {runNow.isError && <ErrorNotice error={runNow.error} action={`run ${policy.name}`} />}
        {remove.isError && <ErrorNotice error={remove.error} action={`delete ${policy.name}`} />}
      </Table.Td>
    </Table.Tr>
  );
}

export default function PoliciesPage() {
  const can = useCan();
  const policies = useQuery({ queryKey: ['policies'], queryFn: () => call(api.GET('/api/v1/policies', { params: { query: { limit: 1000 } } })) });
  return (
    <>
      <PageHeader title="Policies">
        {can('POST /api/v1/policies') && <Button component={Link} to="/policies/new">New policy</Button>}
      </PageHeader>
      {policies.isPending ? <Loading what="policies" /> : policies.isError ? <ErrorNotice error={policies.error} action="load the policies" />
        : policies.data.items.length === 0 ? <Empty title="No policies yet">A policy says which VMs are backed up, where to and when.{can('POST /api/v1/policies') ? <> <Anchor component={Link} to="/policies/new">Create one</Anchor>.</> : ''}</Empty> : (
          <Table.ScrollContainer minWidth={900}>
            <Table striped>
              <Table.Thead>
                <Table.Tr><Table.Th>Name</Table.Th><Table.Th>Enabled</Table.Th><Table.Th>VMs</Table.Th><Table.Th>Repositories</Table.Th><Table.Th>Schedule</Table.Th><Table.Th>RPO</Table.Th><Table.Th>Retention</Table.Th><Table.Th>Actions</Table.Th></Table.Tr>
              </Table.Thead>
              <Table.Tbody>{policies.data.items.map((p) => <PolicyRow key={p.name} policy={p} />)}</Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
    </>
  );
}

/** What the server found wrong with a policy's selectors, in words (the API decides; this only phrases it). */
function statusProblem(status: Policy['status']): string {
  if (status.state === 'conflict') return `conflict: ${status.conflicts.map((c) => `${c.name} also in ${c.policies.join(', ')}`).join('; ')}`;
  return `no VM matches ${status.unmatched.join(', ')}`;
}
