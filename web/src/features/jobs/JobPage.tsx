// One job: its state, error, progress (in all and per disk), what happened to each VM, and its
// log, live while it runs; the actions the role and the state allow.

import { Alert, Anchor, Card, Group, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { api, call, FINISHED_STATES, type JobVm } from '../../api/index.ts';
import { Empty, ErrorNotice, Loading, PageHeader, StateBadge, formatBytes, formatDuration, formatTime } from '../../ui/index.ts';
import { JobActions } from './JobActions.tsx';
import { JobDownload } from './JobDownload.tsx';
import { JobLog } from './JobLog.tsx';
import { JobProgress } from './JobProgress.tsx';
import { DiskBars } from './DiskBars.tsx';
import { useLiveJobs } from './LiveJobs.tsx';
import { useJobEvents } from './useJobEvents.ts';

function VmRows({ vms }: { vms: readonly JobVm[] }) {
  if (vms.length === 0) return <Empty title="No VMs in this job yet" />;
  return (
    <Table.ScrollContainer minWidth={600}>
      <Table striped>
        <Table.Thead>
          <Table.Tr><Table.Th>VM</Table.Th><Table.Th>State</Table.Th><Table.Th>Repository</Table.Th><Table.Th>Read</Table.Th><Table.Th>Written</Table.Th><Table.Th>Time</Table.Th><Table.Th>Error</Table.Th></Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {vms.map((vm) => (
            <Table.Tr key={vm.vmKey}>
              <Table.Td><Anchor component={Link} to={`/vms/${encodeURIComponent(vm.vmName)}`}>{vm.vmName}</Anchor></Table.Td>
              <Table.Td><StateBadge state={vm.state} /></Table.Td>
              <Table.Td>{vm.repository ?? '—'}</Table.Td>
              <Table.Td>{formatBytes(vm.bytesRead)}</Table.Td>
              <Table.Td>{formatBytes(vm.bytesWritten)}</Table.Td>
              <Table.Td>{formatDuration(vm.startedMs, vm.finishedMs)}</Table.Td>
              <Table.Td>{vm.error ?? ''}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

export default function JobPage() {
  const id = useParams().id!;
  const detail = useQuery({ queryKey: ['job', id], queryFn: () => call(api.GET('/api/v1/jobs/{id}', { params: { path: { id } } })) });
  const finished = detail.data ? FINISHED_STATES.includes(detail.data.job.state) : false;
  const events = useJobEvents(id, finished);
  const live = useLiveJobs().get(id);
  if (detail.isPending) return <Loading what="job" />;
  if (detail.isError) return <><PageHeader title={`Job ${id}`} /><ErrorNotice error={detail.error} action="load the job" /></>;
  const { job, vms } = detail.data;
  // The stream's state may be newer than the record until the record is read again.
  const state = !finished && (events.update ?? live) ? (events.update ?? live)!.state : job.state;
  return (
    <Stack>
      <PageHeader title={`Job ${job.id}`}>
        <JobActions job={{ id: job.id, state }} />
        <JobDownload job={{ ...job, state }} />
      </PageHeader>
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
        <Card withBorder><Text size="sm">State</Text><Group><span data-testid="job-state"><StateBadge state={state} /></span>{events.live && <Text size="xs">live</Text>}</Group></Card>
        <Card withBorder><Text size="sm">Kind</Text><Text fw={600}>{job.kind}{job.policy ? ` · policy ${job.policy}` : ''}</Text></Card>
        <Card withBorder><Text size="sm">Started</Text><Text fw={600}>{formatTime(job.startedMs ?? job.createdMs)}</Text><Text size="xs">by {job.trigger}</Text></Card>
        <Card withBorder><Text size="sm">Duration</Text><Text fw={600}>{formatDuration(job.startedMs, job.finishedMs)}</Text></Card>
      </SimpleGrid>
      {job.error && <Alert color="red" title="The job failed" role="alert"><Text size="sm" data-testid="job-error">{job.error}</Text></Alert>}
      {!finished && <JobProgress update={events.update ?? live} label="Job progress" />}
      {finished && <Text size="sm">{formatBytes(job.bytesRead)} read, {formatBytes(job.bytesWritten)} written</Text>}
      <DiskBars disks={events.disks} />
      <Title order={2} size="h4">VMs</Title>
      <VmRows vms={vms} />
      <Title order={2} size="h4">Log</Title>
      <JobLog lines={events.lines.length > 0 ? events.lines : detail.data.events} names={new Map(vms.map((v) => [v.vmKey, v.vmName]))} />
    </Stack>
  );
}
