// The prune simulator: a retention's rules against a repository's backups as they are, answered by
// the server's own prune planning (GET …/prune-preview) — which backups stay and by which rule,
// which would go. Nothing is deleted.

import { Badge, Button, Group, NumberInput, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type Repository } from '../../api/index.ts';
import { ErrorNotice, formatTime } from '../../ui/index.ts';

const RULES = [['keepLast', 'Keep last'], ['keepDaily', 'Keep daily'], ['keepWeekly', 'Keep weekly'], ['keepMonthly', 'Keep monthly']] as const;
type Rule = (typeof RULES)[number][0];

export function PruneSimulator({ repositories }: { repositories: readonly Repository[] }) {
  const [repository, setRepository] = useState(repositories[0]?.name ?? '');
  const [vm, setVm] = useState('');
  const [rules, setRules] = useState<Partial<Record<Rule, number>>>({ keepLast: 7 });
  const preview = useMutation({
    mutationFn: () => call(api.GET('/api/v1/repositories/{name}/prune-preview', {
      params: { path: { name: repository }, query: { ...rules, ...(vm ? { vm } : {}) } },
    })),
  });
  const rows = preview.data ? [...preview.data.keep.map((b) => ({ ...b, keep: true })), ...preview.data.remove.map((b) => ({ ...b, keep: false }))]
    .sort((a, b) => b.timeMs - a.timeMs) : [];
  return (
    <Stack component="section" aria-labelledby="prune-simulator">
      <Title order={2} size="h4" id="prune-simulator">Prune simulator</Title>
      <form onSubmit={(e) => { e.preventDefault(); preview.mutate(); }}>
        <Group align="end" wrap="wrap">
          <Select label="Repository" data={repositories.map((r) => r.name)} value={repository} onChange={(v) => setRepository(v ?? '')} allowDeselect={false} />
          {RULES.map(([key, label]) => (
            <NumberInput key={key} label={label} min={0} w={120} value={rules[key] ?? ''}
              onChange={(v) => setRules((prev) => ({ ...prev, [key]: typeof v === 'number' ? v : undefined }))} />
          ))}
          <TextInput label="Only VM (optional)" value={vm} onChange={(e) => setVm(e.currentTarget.value)} />
          <Button type="submit" loading={preview.isPending}>Simulate</Button>
        </Group>
      </form>
      {preview.isError && <ErrorNotice error={preview.error} action="simulate the prune" />}
      {preview.data && (
        <>
          <Text size="sm" data-testid="prune-summary">{preview.data.keep.length} kept, {preview.data.remove.length} removed</Text>
          <Table.ScrollContainer minWidth={560}>
            <Table striped data-testid="prune-preview">
              <Table.Thead><Table.Tr><Table.Th>Backup</Table.Th><Table.Th>VM</Table.Th><Table.Th>Time</Table.Th><Table.Th>Outcome</Table.Th><Table.Th>Why</Table.Th></Table.Tr></Table.Thead>
              <Table.Tbody>
                {rows.map((b) => (
                  <Table.Tr key={b.backupId}>
                    <Table.Td><code>{b.backupId}</code></Table.Td><Table.Td>{b.vmName}</Table.Td><Table.Td>{formatTime(b.timeMs)}</Table.Td>
                    <Table.Td><Badge color={b.keep ? 'green' : 'red'} variant="dot">{b.keep ? 'kept' : 'removed'}</Badge></Table.Td>
                    <Table.Td>{b.reasons.join(', ')}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </>
      )}
    </Stack>
  );
}
