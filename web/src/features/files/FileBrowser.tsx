// A backup's files, browsed like a file manager: its filesystems (and the guest OS's own tree),
// then directories; files and folders picked with checkboxes and downloaded — a file as is, a
// folder as one tar or zip, as the API packs it. What cannot be browsed (LUKS, swap, no guest
// OS) is the server's one line with its code. The first request starts an appliance: it says so.

import { Anchor, Breadcrumbs, Button, Checkbox, Group, SegmentedControl, Stack, Table, Text, VisuallyHidden } from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type Backup, type FileEntry } from '../../api/index.ts';
import { useCan } from '../../app/useCan.ts';
import { Empty, ErrorNotice, Loading, formatBytes, formatTime } from '../../ui/index.ts';
import { FileSearch } from './FileSearch.tsx';
import { GUEST_ROOT, ancestorsOf, apiPath, childOf, type Place } from './filePaths.ts';
import { saveDownload } from './saveDownload.ts';

type Format = 'tar' | 'zip';

function useListing(backup: Backup, place: Place | null) {
  const path = { repository: backup.repository, backupId: backup.backupId };
  return useQuery({
    queryKey: ['files', backup.repository, backup.backupId, place ? apiPath(place) : null],
    queryFn: () => call(api.GET('/api/v1/backups/{repository}/{backupId}/files', { params: { path, query: place ? { path: apiPath(place) } : {} } })),
    retry: false, staleTime: 5 * 60_000,
  });
}

function Filesystems({ backup, onOpen }: { backup: Backup; onOpen(place: Place): void }) {
  const listing = useListing(backup, null);
  if (listing.isPending) return <Loading what="the backup's filesystems (the first look starts a browsing appliance: 15–30 s)" />;
  if (listing.isError) return <ErrorNotice error={listing.error} action="list the backup's filesystems" />;
  const filesystems = listing.data.filesystems ?? [];
  return (
    <Table.ScrollContainer minWidth={360}>
      <Table data-testid="filesystems">
        <Table.Thead><Table.Tr><Table.Th>Filesystem</Table.Th><Table.Th>Type</Table.Th><Table.Th>Browse</Table.Th></Table.Tr></Table.Thead>
        <Table.Tbody>
          <Table.Tr>
            <Table.Td>The guest OS (its root with its mounts)</Table.Td><Table.Td>—</Table.Td>
            <Table.Td><Button size="xs" variant="default" onClick={() => onOpen({ fs: GUEST_ROOT, path: '/' })} aria-label="Browse the guest OS">Browse</Button></Table.Td>
          </Table.Tr>
          {filesystems.map((f) => (
            <Table.Tr key={f.id}>
              <Table.Td><code>{f.id}</code></Table.Td><Table.Td>{f.type}</Table.Td>
              <Table.Td><Button size="xs" variant="default" onClick={() => onOpen({ fs: f.id, path: '/' })} aria-label={`Browse ${f.id}`}>Browse</Button></Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function EntryName({ entry, onOpen }: { entry: FileEntry; onOpen(): void }) {
  if (entry.type === 'dir') return <Anchor component="button" type="button" onClick={onOpen}>{entry.name}/</Anchor>;
  return <>{entry.name}{entry.type === 'symlink' && entry.target ? ` → ${entry.target}` : ''}</>;
}

function Directory({ backup, place, onOpen }: { backup: Backup; place: Place; onOpen(place: Place): void }) {
  const can = useCan();
  const listing = useListing(backup, place);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [format, setFormat] = useState<Format>('tar');
  const mayDownload = can('GET /api/v1/backups/{repository}/{backupId}/files/download');
  const entries = listing.data?.entries ?? [];
  const download = useMutation({
    mutationFn: async (names: readonly string[]) => {
      // One request each: the API packs one file or folder per answer.
      for (const name of names) {
        const entry = entries.find((e) => e.name === name);
        const query = { path: apiPath(childOf(place, name)), ...(entry?.type === 'dir' ? { format } : {}) };
        await saveDownload(api.GET('/api/v1/backups/{repository}/{backupId}/files/download', {
          params: { path: { repository: backup.repository, backupId: backup.backupId }, query }, parseAs: 'blob',
        }), name);
      }
    },
  });
  const toggle = (name: string, on: boolean) => setSelected((old) => { const next = new Set(old); if (on) next.add(name); else next.delete(name); return next; });
  const crumbs = ancestorsOf(place);
  return (
    <Stack gap="xs">
      <Breadcrumbs separator="/" aria-label="Folder" style={{ flexWrap: 'wrap' }}>
        <Anchor component="button" type="button" onClick={() => onOpen({ fs: '', path: '' })}>Filesystems</Anchor>
        {crumbs.map((c, i) => i === crumbs.length - 1
          ? <Text key={c.place.path} size="sm" fw={600} aria-current="location">{c.label}</Text>
          : <Anchor key={c.place.path} component="button" type="button" onClick={() => onOpen(c.place)}>{c.label}</Anchor>)}
      </Breadcrumbs>
      {listing.isPending ? <Loading what="the folder (the first look starts a browsing appliance: 15–30 s)" />
        : listing.isError ? <ErrorNotice error={listing.error} action={`open ${apiPath(place)}`} />
          : entries.length === 0 ? <Empty title="This folder is empty">Go back up with the path above.</Empty> : (
            <Table.ScrollContainer minWidth={480} mah={340}>
              <Table striped data-testid="file-entries">
                <Table.Thead>
                  <Table.Tr>{mayDownload && <Table.Th><VisuallyHidden>Select</VisuallyHidden></Table.Th>}<Table.Th>Name</Table.Th><Table.Th>Size</Table.Th><Table.Th>Modified</Table.Th></Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {entries.map((e) => (
                    <Table.Tr key={e.name}>
                      {mayDownload && (
                        <Table.Td><Checkbox aria-label={`Select ${e.name}`} checked={selected.has(e.name)} disabled={e.type !== 'file' && e.type !== 'dir'}
                          onChange={(ev) => toggle(e.name, ev.currentTarget.checked)} /></Table.Td>
                      )}
                      <Table.Td><EntryName entry={e} onOpen={() => { setSelected(new Set()); onOpen(childOf(place, e.name)); }} /></Table.Td>
                      <Table.Td>{e.type === 'file' ? formatBytes(e.sizeBytes) : e.type}</Table.Td>
                      <Table.Td>{formatTime(Date.parse(e.mtime))}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
      {mayDownload && entries.length > 0 && (
        <Group wrap="wrap" gap="xs">
          <SegmentedControl size="xs" value={format} onChange={(v) => setFormat(v as Format)} aria-label="Folders as"
            data={[{ value: 'tar', label: 'folders as tar' }, { value: 'zip', label: 'folders as zip' }]} />
          <Button size="xs" disabled={selected.size === 0} loading={download.isPending} onClick={() => download.mutate([...selected])}>
            Download {selected.size === 0 ? 'selected' : `${selected.size} selected`}
          </Button>
        </Group>
      )}
      {download.isError && <ErrorNotice error={download.error} action="download" />}
    </Stack>
  );
}

/** The "Files" step of the restore wizard: browse, search, download. */
export function FileBrowser({ backup }: { backup: Backup }) {
  const [place, setPlace] = useState<Place | null>(null);
  const open = (p: Place) => setPlace(p.fs === '' ? null : p);
  return (
    <Stack gap="sm">
      <FileSearch backup={backup} onOpen={open} />
      {place ? <Directory key={`${place.fs}:${place.path}`} backup={backup} place={place} onOpen={open} /> : <Filesystems backup={backup} onOpen={open} />}
    </Stack>
  );
}
