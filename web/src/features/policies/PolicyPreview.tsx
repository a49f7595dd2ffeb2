// What a saved policy does now, as the server works it out (GET /policies/{name}/preview): the
// VMs its selectors match, selectors that match nothing, VMs another policy also claims (which
// neither backs up until resolved) and its next runs.

import { Alert, Anchor, Card, List, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, call } from '../../api/index.ts';
import { ErrorNotice, Loading, formatAgo, formatTime } from '../../ui/index.ts';

export function PolicyPreview({ name }: { name: string }) {
  const preview = useQuery({
    queryKey: ['policies', name, 'preview'],
    queryFn: () => call(api.GET('/api/v1/policies/{name}/preview', { params: { path: { name }, query: { runs: 3 } } })),
  });
  if (preview.isPending) return <Loading what="preview" />;
  if (preview.isError) return <ErrorNotice error={preview.error} action="preview the policy" />;
  const { vms, unmatched, conflicts, nextRunsMs } = preview.data;
  return (
    <Card withBorder component="section" aria-label="What this policy does now">
      <Stack gap="xs">
        <Title order={2} size="h5">Matches now: {vms.length} VM{vms.length === 1 ? '' : 's'}</Title>
        {vms.length > 0 && (
          <Text size="sm">
            {vms.slice(0, 20).map((vm, i) => <span key={vm.uuid}>{i > 0 && ', '}<Anchor component={Link} to={`/vms/${vm.uuid}`}>{vm.name}</Anchor></span>)}
            {vms.length > 20 && ` and ${vms.length - 20} more`}
          </Text>
        )}
        {unmatched.length > 0 && <Text size="sm">Selectors that match no VM: {unmatched.join(', ')}</Text>}
        {conflicts.length > 0 && (
          <Alert color="orange" title="Claimed by another policy too" role="alert">
            <Text size="sm">Neither policy backs these up until only one matches them:</Text>
            <List size="sm">{conflicts.map((c) => <List.Item key={c.uuid}>{c.name}: {c.policies.join(', ')}</List.Item>)}</List>
          </Alert>
        )}
        <Text size="sm">Next runs: {nextRunsMs.length === 0 ? 'none' : nextRunsMs.map((ms) => `${formatTime(ms)} (${formatAgo(ms)})`).join('; ')}</Text>
      </Stack>
    </Card>
  );
}
