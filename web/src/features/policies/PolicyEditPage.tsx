// Create or edit a policy. The server's answer decides: a rejected field shows the server's
// one-line reason under that field. Editing shows first what the saved policy does now.

import { Button, Group, MultiSelect, NumberInput, Select, SimpleGrid, Stack, Switch, TagsInput, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useNavigate, useParams } from 'react-router';
import { api, asApiError, call, type Policy } from '../../api/index.ts';
import { ErrorNotice, Loading, PageHeader } from '../../ui/index.ts';
import { NEW_POLICY, bodyOf, fieldsOf, formFieldOf, type PolicyFields } from './policyForm.ts';
import { PolicyPreview } from './PolicyPreview.tsx';

function PolicyForm({ existing }: { existing: Policy | undefined }) {
  const [f, setF] = useState<PolicyFields>(existing ? fieldsOf(existing) : NEW_POLICY);
  const set = <K extends keyof PolicyFields>(k: K) => (v: PolicyFields[K]) => setF((old) => ({ ...old, [k]: v }));
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const repositories = useQuery({ queryKey: ['repositories'], queryFn: () => call(api.GET('/api/v1/repositories', { params: { query: { limit: 1000 } } })) });
  const save = useMutation({
    mutationFn: () => existing
      ? call(api.PUT('/api/v1/policies/{name}', { params: { path: { name: existing.name } }, body: bodyOf(f, existing) }))
      : call(api.POST('/api/v1/policies', { body: { name: f.name.trim(), ...bodyOf(f, undefined) } })),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['policies'] });
      await navigate('/policies');
    },
  });
  const problem = save.isError ? asApiError(save.error) : null;
  const errorOf = (field: string) => (problem && formFieldOf(problem.field) === field ? problem.message : undefined);
  const submit = (e: FormEvent) => { e.preventDefault(); save.mutate(); };
  const num = (k: 'keepLast' | 'keepDaily' | 'keepWeekly' | 'keepMonthly', label: string) => (
    <NumberInput label={label} min={0} allowDecimal={false} value={f[k]} error={errorOf(k)}
      onChange={(v) => set(k)(typeof v === 'number' ? v : '')} />
  );
  return (
    <form onSubmit={submit} aria-label={existing ? `Edit policy ${existing.name}` : 'New policy'}>
      <Stack maw={720}>
        {problem && <ErrorNotice error={problem} action="save the policy" />}
        <TextInput label="Name" required disabled={existing !== undefined} value={f.name} error={errorOf('name')} onChange={(e) => set('name')(e.currentTarget.value)} />
        <Switch label="Enabled (runs on its schedule)" checked={f.enabled} onChange={(e) => set('enabled')(e.currentTarget.checked)} />
        <TagsInput label="VMs" description="names, UUIDs, globs such as web*, or tag:NAME; press Enter after each" required
          value={f.vms} onChange={set('vms')} error={errorOf('vms')} />
        <MultiSelect label="Repositories" description="in failover order" required data={repositories.data?.items.map((r) => r.name) ?? []}
          value={f.repositories} onChange={set('repositories')} error={errorOf('repositories')} searchable />
        {repositories.isError && <ErrorNotice error={repositories.error} action="load the repositories" />}
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <TextInput label="Schedule (cron)" description="minute hour day month weekday" required value={f.schedule} error={errorOf('schedule')} onChange={(e) => set('schedule')(e.currentTarget.value)} />
          <TextInput label="Time zone" description="such as Europe/Berlin; empty: the server's" value={f.timezone} error={errorOf('timezone')} onChange={(e) => set('timezone')(e.currentTarget.value)} />
          <TextInput label="RPO" description="such as 26h; empty: none" value={f.rpo} error={errorOf('rpo')} onChange={(e) => set('rpo')(e.currentTarget.value)} />
        </SimpleGrid>
        <Title order={2} size="h5">Retention</Title>
        <SimpleGrid cols={{ base: 2, sm: 4 }}>
          {num('keepLast', 'Keep last')}{num('keepDaily', 'Daily')}{num('keepWeekly', 'Weekly')}{num('keepMonthly', 'Monthly')}
        </SimpleGrid>
        <Select label="Quiesce" data={['auto', 'require', 'off']} value={f.quiesce} allowDeselect={false} onChange={(v) => set('quiesce')((v ?? 'auto') as PolicyFields['quiesce'])} />
        <Group>
          <Button type="submit" loading={save.isPending}>{existing ? 'Save' : 'Create policy'}</Button>
          <Button variant="default" onClick={() => void navigate('/policies')}>Cancel</Button>
        </Group>
      </Stack>
    </form>
  );
}

export default function PolicyEditPage() {
  const name = useParams().name;
  const policy = useQuery({
    queryKey: ['policies', name], enabled: name !== undefined,
    queryFn: () => call(api.GET('/api/v1/policies/{name}', { params: { path: { name: name! } } })),
  });
  const title = name ? `Edit policy ${name}` : 'New policy';
  if (name && policy.isPending) return <><PageHeader title={title} /><Loading what="policy" /></>;
  if (name && policy.isError) return <><PageHeader title={title} /><ErrorNotice error={policy.error} action="load the policy" /></>;
  return (
    <Stack>
      <PageHeader title={title} />
      {name && <PolicyPreview name={name} />}
      <PolicyForm existing={name ? policy.data : undefined} />
    </Stack>
  );
}
