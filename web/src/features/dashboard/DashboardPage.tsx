// Is everything protected? Protection counts, jobs of the last 24 hours, running jobs with
// live progress, repository usage, upcoming runs and recent alerts — from GET /dashboard and
// GET /usage; the live job stream keeps the progress moving and refreshes the rest.

import { Anchor, Card, Group, List, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense } from 'react';
import { Link } from 'react-router';
import { api, call, type Dashboard } from '../../api/index.ts';
import { Empty, ErrorNotice, Loading, PageHeader, StateBadge, formatAgo, formatTime } from '../../ui/index.ts';
import { JobProgress } from '../jobs/JobProgress.tsx';
import { useLiveJobs } from '../jobs/LiveJobs.tsx';

const UsageChart = lazy(() => import('./UsageChart.tsx'));
const MONTH_MS = 30 * 86_400_000;

function Count({ label, value, testId }: { label: string; value: number; testId: string }) {
  return (
    <Card withBorder>
      <Text size="sm">{label}</Text>
      <Text fw={700} size="xl" data-testid={testId}>{value}</Text>
    </Card>
  );
}

function Section({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <Card withBorder component="section" aria-label={title}>
      <Title order={2} size="h4" mb="sm">{title}</Title>
      {children}
    </Card>
  );
}

function ActiveJobs({ jobs }: { jobs: Dashboard['activeJobs'] }) {
  const live = useLiveJobs();
  if (jobs.length === 0) return <Text size="sm">No job is queued or running.</Text>;
  return (
    <Stack gap="sm">
      {jobs.map((job) => (
        <div key={job.id}>
          <Group gap="xs">
            <Anchor component={Link} to={`/jobs/${job.id}`}>{job.kind} {job.policy ?? ''}</Anchor>
            <StateBadge state={live.get(job.id)?.state ?? job.state} />
          </Group>
          <JobProgress update={live.get(job.id)} label={`Job ${job.id}`} />
        </div>
      ))}
    </Stack>
  );
}

function Usage() {
  const usage = useQuery({
    queryKey: ['usage'],
    queryFn: () => call(api.GET('/api/v1/usage', { params: { query: { limit: 1000, sinceMs: Date.now() - MONTH_MS } } })),
  });
  if (usage.isPending) return <Loading what="usage" />;
  if (usage.isError) return <ErrorNotice error={usage.error} action="load repository usage" />;
  if (usage.data.items.length === 0) return <Text size="sm">No usage recorded yet: it is sampled after backups and garbage collection.</Text>;
  return <Suspense fallback={<Loading what="chart" />}><UsageChart samples={usage.data.items} /></Suspense>;
}

export function DashboardPage() {
  const dashboard = useQuery({ queryKey: ['dashboard'], queryFn: () => call(api.GET('/api/v1/dashboard')), refetchInterval: 60_000 });
  if (dashboard.isPending) return <><PageHeader title="Dashboard" /><Loading what="dashboard" /></>;
  if (dashboard.isError) return <><PageHeader title="Dashboard" /><ErrorNotice error={dashboard.error} action="load the dashboard" /></>;
  const { protection, jobsLast24h, activeJobs, upcomingRuns, recentAlerts } = dashboard.data;
  const last24h = Object.entries(jobsLast24h);
  return (
    <Stack>
      <PageHeader title="Dashboard" />
      <SimpleGrid cols={{ base: 2, md: 4 }}>
        <Count label="VMs" value={protection.vms} testId="count-vms" />
        <Count label="Protected" value={protection.protectedVms} testId="count-protected" />
        <Count label="Unprotected" value={protection.unprotectedVms} testId="count-unprotected" />
        <Count label="RPO missed" value={protection.rpoMissed} testId="count-rpo-missed" />
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Section title="Running jobs"><ActiveJobs jobs={activeJobs} /></Section>
        <Section title="Jobs in the last 24 hours">
          {last24h.length === 0 ? <Text size="sm">No jobs in the last 24 hours.</Text> : (
            <Group gap="md">{last24h.map(([state, n]) => <Group key={state} gap={4}><StateBadge state={state} /><Text fw={600}>{n}</Text></Group>)}</Group>
          )}
        </Section>
        <Section title="Repository usage"><Usage /></Section>
        <Section title="Upcoming runs">
          {upcomingRuns.length === 0 ? <Text size="sm">No enabled policy has a run scheduled.</Text> : (
            <List size="sm" spacing={4}>
              {upcomingRuns.map((r) => <List.Item key={`${r.policy}-${r.timeMs}`}>{formatTime(r.timeMs)} ({formatAgo(r.timeMs)}) — policy {r.policy}</List.Item>)}
            </List>
          )}
        </Section>
        <Section title="RPO missed">
          {protection.missed.length === 0 ? <Text size="sm">Every VM with an RPO has a recent enough backup.</Text> : (
            <List size="sm" spacing={4}>
              {protection.missed.map((vm) => (
                <List.Item key={vm.uuid}><Anchor component={Link} to={`/vms/${vm.uuid}`}>{vm.name}</Anchor> — last good backup {formatAgo(vm.lastGoodBackupMs)}</List.Item>
              ))}
            </List>
          )}
        </Section>
        <Section title="Recent alerts">
          {recentAlerts.length === 0 ? <Empty title="No warnings or errors" /> : (
            <List size="sm" spacing={4}>
              {recentAlerts.map((e) => <List.Item key={e.id}><StateBadge state={e.severity === 'error' ? 'failed' : 'warning'} /> {formatTime(e.timeMs)} {e.message}</List.Item>)}
            </List>
          )}
        </Section>
      </SimpleGrid>
    </Stack>
  );
}
