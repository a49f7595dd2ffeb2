// Search in one backup's files through the file index (GET /files/find, narrowed to this VM
// and then to this backup). A backup that is not indexed says so, and an operator may index it
// from here: that is a job, followed on its own page.

import { Anchor, Button, Group, Stack, Table, Text, TextInput } from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { api, call, type Backup, type FoundFile } from '../../api/index.ts';
import { useCan } from '../../app/useCan.ts';
import { ErrorNotice, formatBytes } from '../../ui/index.ts';
import { parentDir, type Place } from './filePaths.ts';

const RESULTS = 200;

/** A plain word finds names containing it; a pattern with * or ? is the API's own glob. */
const globOf = (text: string): string => (/[*?]/.test(text) ? text : `*${text}*`);

const inBackup = (f: FoundFile, b: Backup): boolean =>
  f.versions.some((v) => v.backups.some((x) => x.repository === b.repository && x.backupId === b.backupId));

function IndexThisBackup({ backup }: { backup: Backup }) {
  const can = useCan();
  const index = useMutation({
    mutationFn: () => call(api.POST('/api/v1/backups/{repository}/{backupId}/index', {
      params: { path: { repository: backup.repository, backupId: backup.backupId }, query: { full: 'false' } },
    })),
  });
  if (!can('POST /api/v1/backups/{repository}/{backupId}/index')) return null;
  if (index.data) return <Text size="sm" role="status">Indexing: <Anchor component={Link} to={`/jobs/${index.data.id}`}>job {index.data.id}</Anchor>; search works once it is done.</Text>;
  return (
    <>
      <Button size="xs" variant="default" loading={index.isPending} onClick={() => index.mutate()}>Index this backup</Button>
      {index.isError && <ErrorNotice error={index.error} action="start indexing" />}
    </>
  );
}

export function FileSearch({ backup, onOpen }: { backup: Backup; onOpen(place: Place): void }) {
  const [text, setText] = useState('');
  const [asked, setAsked] = useState<string | null>(null);
  const path = { repository: backup.repository, backupId: backup.backupId };
  const indexed = useQuery({
    queryKey: ['files-index', backup.repository, backup.backupId],
    queryFn: () => call(api.GET('/api/v1/backups/{repository}/{backupId}/files/index', { params: { path } })),
  });
  const found = useQuery({
    queryKey: ['files-find', backup.vmKey, asked],
    queryFn: () => call(api.GET('/api/v1/files/find', { params: { query: { name: globOf(asked!), vm: backup.vmKey, limit: RESULTS } } })),
    enabled: asked !== null,
  });
  if (indexed.isError) return <ErrorNotice error={indexed.error} action="find out whether this backup is indexed" />;
  if (!indexed.data) return null;
  if (!indexed.data.indexed) {
    return (
      <Group gap="xs" wrap="wrap">
        <Text size="sm">This backup is not indexed, so its files cannot be searched — browse them below.</Text>
        <IndexThisBackup backup={backup} />
      </Group>
    );
  }
  const hits = found.data?.files.filter((f) => inBackup(f, backup)) ?? [];
  return (
    <Stack gap="xs" component="section" aria-label="Search this backup">
      <form onSubmit={(e) => { e.preventDefault(); if (text.trim()) setAsked(text.trim()); }}>
        <Group align="end" gap="xs" wrap="wrap">
          <TextInput label="Find a file" description={`${indexed.data.entryCount ?? 0} names indexed; * and ? are wildcards`} placeholder="invoice*.pdf"
            value={text} onChange={(e) => setText(e.currentTarget.value)} w={{ base: '100%', sm: 300 }} />
          <Button type="submit" variant="default" loading={found.isFetching}>Search</Button>
        </Group>
      </form>
      {found.isError && <ErrorNotice error={found.error} action="search the file index" />}
      {found.data && hits.length === 0 && <Text size="sm" role="status">Nothing in this backup matches {globOf(asked!)}.</Text>}
      {hits.length > 0 && (
        <Table.ScrollContainer minWidth={420} mah={200}>
          <Table data-testid="file-hits">
            <Table.Thead><Table.Tr><Table.Th>Found</Table.Th><Table.Th>Size</Table.Th><Table.Th>Open</Table.Th></Table.Tr></Table.Thead>
            <Table.Tbody>
              {hits.map((f) => {
                const version = f.versions.find((v) => v.backups.some((x) => x.backupId === backup.backupId))!;
                return (
                  <Table.Tr key={`${f.fs}:${f.path}`}>
                    <Table.Td><code>{f.fs}:{f.path}</code></Table.Td>
                    <Table.Td>{f.type === 'file' ? formatBytes(version.sizeBytes) : f.type}</Table.Td>
                    <Table.Td><Button size="xs" variant="default" aria-label={`Open folder of ${f.path}`} onClick={() => onOpen({ fs: f.fs, path: parentDir(f.path) })}>Open folder</Button></Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {found.data?.truncated && <Text size="sm">More than {RESULTS} matches: narrow the name.</Text>}
    </Stack>
  );
}
