// Every job, newest first, filterable by state and kind, with live state and progress of the
// ones still going; more pages load on request.

import { Anchor, Button, Group, Select, Table, Text } from '@mantine/core';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { api, call, type Job, type JobState } from '../../api/index.ts';
import { Empty, ErrorNotice, Loading, PageHeader, StateBadge, formatBytes, formatTime } from '../../ui/index.ts';
import { JobProgress } from './JobProgress.tsx';
import { useLiveJobs } from './LiveJobs.tsx';

const STATES: JobState[] = ['queued', 'running', 'paused', 'succeeded', 'warning', 'failed', 'aborted', 'interrupted'];
const KINDS: Job['kind'][] = ['backup', 'verify', 'prune', 'gc', 'copy', 'restore', 'sync', 'index'];

export default function JobsPage() {
  const [state, setState] = useState<JobState | null>(null);
  const [kind, setKind] = useState<Job['kind'] | null>(null);
  const live = useLiveJobs();
  const jobs = useInfiniteQuery({
    queryKey: ['jobs', 'list', state, kind],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => call(api.GET('/api/v1/jobs', { params: { query: { limit: 100, cursor: pageParam, state: state ?? undefined, kind: kind ?? undefined } } })),
    getNextPageParam: (last) => last.next ?? undefined,
  });
  const items = jobs.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <PageHeader title="Jobs" />
      <Group mb="md">
        <Select label="State" placeholder="any" clearable data={STATES} value={state} onChange={(v) => setState(v as JobState | null)} />
        <Select label="Kind" placeholder="any" clearable data={KINDS} value={kind} onChange={(v) => setKind(v as Job['kind'] | null)} />
      </Group>
      {jobs.isPending ? <Loading what="jobs" /> : jobs.isError ? <ErrorNotice error={jobs.error} action="load the jobs" />
        : items.length === 0 ? <Empty title="No jobs">{state || kind ? 'None match these filters.' : 'Jobs appear here when a policy runs or someone starts one.'}</Empty> : (
          <>
            <Text size="sm" mb="xs">{jobs.data.pages[0]!.total} jobs</Text>
            <Table.ScrollContainer minWidth={800}>
              <Table striped highlightOnHover>
                <Table.Thead>
                  <Table.Tr><Table.Th>Job</Table.Th><Table.Th>Kind</Table.Th><Table.Th>Policy</Table.Th><Table.Th>State</Table.Th><Table.Th>Created</Table.Th><Table.Th>Written</Table.Th><Table.Th>VMs</Table.Th><Table.Th>Error</Table.Th></Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {items.map((job) => {
                    const update = live.get(job.id);
                    const state = update?.state ?? job.state;
                    return (
                      <Table.Tr key={job.id}>
                        <Table.Td><Anchor component={Link} to={`/jobs/${job.id}`}>{job.id}</Anchor></Table.Td>
                        <Table.Td>{job.kind}</Table.Td>
                        <Table.Td>{job.policy ?? '—'}</Table.Td>
                        <Table.Td><StateBadge state={state} />{state === 'running' && <JobProgress update={update} label={`Job ${job.id}`} />}</Table.Td>
                        <Table.Td>{formatTime(job.createdMs)}</Table.Td>
                        <Table.Td>{formatBytes(update?.bytesWritten ?? job.bytesWritten)}</Table.Td>
                        <Table.Td>{Object.entries(job.vmCounts).map(([s, n]) => `${n} ${s}`).join(', ') || '—'}</Table.Td>
                        <Table.Td><Text size="sm" lineClamp={2}>{job.error ?? ''}</Text></Table.Td>
                      </Table.Tr>
                    );
                  })}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
            {jobs.hasNextPage && <Button mt="md" variant="default" loading={jobs.isFetchingNextPage} onClick={() => void jobs.fetchNextPage()}>Load more</Button>}
          </>
        )}
    </>
  );
}
