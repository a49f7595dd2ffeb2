// One VM: what the inventory knows (state, host, disks, policy) and its restore points — as a
// month calendar and as a table — each verifiable, restorable and browsable by roles that may.

import { Badge, Button, Card, Group, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate, useParams } from 'react-router';
import { api, call, type Backup, type Vm } from '../../api/index.ts';
import { useCan } from '../../app/useCan.ts';
import { Empty, ErrorNotice, Loading, PageHeader, StateBadge, formatAgo, formatBytes, formatTime } from '../../ui/index.ts';
import { RestoreCalendar, kindOf } from './RestoreCalendar.tsx';
import { RestoreDialog, type RestoreMode } from './RestoreDialog.tsx';

function Disks({ vm }: { vm: Vm }) {
  return (
    <Table.ScrollContainer minWidth={500}>
      <Table>
        <Table.Thead><Table.Tr><Table.Th>Disk</Table.Th><Table.Th>Format</Table.Th><Table.Th>Size</Table.Th><Table.Th>Changed-block tracking</Table.Th><Table.Th>Note</Table.Th></Table.Tr></Table.Thead>
        <Table.Tbody>
          {vm.disks.map((d) => (
            <Table.Tr key={d.target}>
              <Table.Td>{d.target}</Table.Td><Table.Td>{d.format}</Table.Td><Table.Td>{formatBytes(d.sizeBytes)}</Table.Td>
              <Table.Td>{d.changedBlockTracking ? 'yes' : 'no'}</Table.Td><Table.Td>{d.skipReason ?? d.unsupportedReason ?? ''}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function RestorePoints({ vm }: { vm: Vm }) {
  const can = useCan();
  const navigate = useNavigate();
  const [restoring, setRestoring] = useState<{ backup: Backup; mode: RestoreMode } | null>(null);
  const backups = useQuery({
    queryKey: ['backups', vm.uuid],
    queryFn: () => call(api.GET('/api/v1/backups', { params: { query: { vm: vm.uuid, limit: 1000 } } })),
  });
  const verify = useMutation({
    mutationFn: (b: Backup) => call(api.POST('/api/v1/backups/{repository}/{backupId}/verify', { params: { path: { repository: b.repository, backupId: b.backupId } } })),
    onSuccess: (job) => navigate(`/jobs/${job.id}`),
  });
  if (backups.isPending) return <Loading what="restore points" />;
  if (backups.isError) return <ErrorNotice error={backups.error} action="load the restore points" />;
  if (backups.data.items.length === 0) return <Empty title="No restore points">This VM has no backup yet{vm.policy ? `; policy ${vm.policy} backs it up on its schedule` : ' and no policy backs it up'}.</Empty>;
  const mayVerify = can('POST /api/v1/backups/{repository}/{backupId}/verify');
  const mayRestore = can('POST /api/v1/backups/{repository}/{backupId}/restore');
  const mayBrowse = can('GET /api/v1/backups/{repository}/{backupId}/files');
  const restore = (backup: Backup, mode: RestoreMode) => setRestoring({ backup, mode });
  return (
    <>
      {verify.isError && <ErrorNotice error={verify.error} action="start the verify" />}
      <RestoreCalendar backups={backups.data.items} actions={{
        ...(mayRestore ? { onRestore: (b: Backup) => restore(b, 'vm') } : {}),
        ...(mayBrowse ? { onFiles: (b: Backup) => restore(b, 'files') } : {}),
        ...(mayVerify ? { onVerify: (b: Backup) => verify.mutate(b) } : {}),
      }} />
      <Title order={3} size="h5">All restore points</Title>
      <Table.ScrollContainer minWidth={800}>
        <Table striped data-testid="restore-points">
          <Table.Thead>
            <Table.Tr><Table.Th>Time</Table.Th><Table.Th>Repository</Table.Th><Table.Th>Kind</Table.Th><Table.Th>Consistency</Table.Th><Table.Th>Size</Table.Th><Table.Th>New</Table.Th><Table.Th>Verified</Table.Th>{(mayVerify || mayRestore || mayBrowse) && <Table.Th>Actions</Table.Th>}</Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {backups.data.items.map((b) => (
              <Table.Tr key={`${b.repository}/${b.backupId}`}>
                <Table.Td>{formatTime(b.timeMs)}</Table.Td>
                <Table.Td>{b.repository}</Table.Td>
                <Table.Td>{kindOf(b)}</Table.Td>
                <Table.Td>{b.consistency}</Table.Td>
                <Table.Td>{formatBytes(b.logicalBytes)}</Table.Td>
                <Table.Td>{formatBytes(b.newBytes)}</Table.Td>
                <Table.Td><StateBadge state={b.verifyState} /></Table.Td>
                {(mayVerify || mayRestore || mayBrowse) && (
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      {mayVerify && <Button size="xs" variant="default" onClick={() => verify.mutate(b)} aria-label={`Verify the backup of ${formatTime(b.timeMs)}`}>Verify</Button>}
                      {mayRestore && <Button size="xs" onClick={() => restore(b, 'vm')} aria-label={`Restore the backup of ${formatTime(b.timeMs)}`}>Restore</Button>}
                      {mayBrowse && !mayRestore && <Button size="xs" variant="default" onClick={() => restore(b, 'files')} aria-label={`Files of the backup of ${formatTime(b.timeMs)}`}>Files</Button>}
                    </Group>
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {restoring && <RestoreDialog backup={restoring.backup} initialMode={restoring.mode} onClose={() => setRestoring(null)} />}
    </>
  );
}

export default function VmPage() {
  const name = useParams().vm!;
  const vm = useQuery({ queryKey: ['vm', name], queryFn: () => call(api.GET('/api/v1/vms/{vm}', { params: { path: { vm: name } } })) });
  if (vm.isPending) return <Loading what="VM" />;
  if (vm.isError) return <><PageHeader title={`VM ${name}`} /><ErrorNotice error={vm.error} action="load the VM" /></>;
  const v = vm.data;
  return (
    <Stack>
      <PageHeader title={`VM ${v.name}`} />
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
        <Card withBorder><Text size="sm">State</Text><StateBadge state={v.state} /></Card>
        <Card withBorder><Text size="sm">Host</Text><Text fw={600}>{v.host ?? '—'}</Text></Card>
        <Card withBorder><Text size="sm">Policy</Text><Text fw={600}>{v.policy ?? 'unprotected'}</Text></Card>
        <Card withBorder><Text size="sm">Last good backup</Text><Text fw={600}>{formatAgo(v.lastGoodBackupMs)}</Text></Card>
      </SimpleGrid>
      <Group gap="xs">{v.tags.map((t) => <Badge key={t} variant="default">{t}</Badge>)}<Text size="xs">UUID {v.uuid}</Text></Group>
      <Title order={2} size="h4">Restore points</Title>
      <RestorePoints vm={v} />
      <Title order={2} size="h4">Disks</Title>
      <Disks vm={v} />
    </Stack>
  );
}
