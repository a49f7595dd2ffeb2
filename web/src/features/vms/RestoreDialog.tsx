// Restoring one backup, in two steps: what and where to (a new VM, over the original VM, disk
// images to a directory on the agent's host, one disk to download, or files and folders picked in
// the file browser), then the options of that choice; the job it queues opens on its own page. Overwriting the original asks for its name typed out;
// the server compares it (CONFIRMATION_MISMATCH), the dialog only shows what it answered.

import { Alert, Box, Button, Checkbox, Group, Modal, SegmentedControl, Select, Stack, Text, TextInput } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { api, call, type Backup, type RestoreRequest } from '../../api/index.ts';
import { ErrorNotice, formatTime } from '../../ui/index.ts';
import { FileBrowser } from '../files/FileBrowser.tsx';
import { RestorePlace, type Place } from './RestorePlace.tsx';
import { useCan } from '../../app/useCan.ts';

export type RestoreMode = 'vm' | 'inplace' | 'dir' | 'download' | 'files';
type Mode = RestoreMode;

const MODES: { value: Mode; label: string }[] = [
  { value: 'vm', label: 'As a new VM' }, { value: 'inplace', label: 'Over the original VM' },
  { value: 'dir', label: 'Disk images to a directory' }, { value: 'download', label: 'Download one disk' },
  { value: 'files', label: 'Files and folders' },
];

interface Options { asVm: string; toDir: string; disk: string; start: boolean; noNetwork: boolean; confirm: string; format: 'raw' | 'qcow2'; place: Place }

function requestOf(mode: Exclude<Mode, 'files'>, o: Options): RestoreRequest {
  const disk = o.disk ? { disk: o.disk } : {};
  switch (mode) {
    case 'vm': return { asVm: o.asVm, start: o.start, noNetwork: o.noNetwork, ...disk, ...(o.place.host ? { host: o.place.host } : {}), ...(o.place.pool ? { pool: o.place.pool } : {}) };
    case 'inplace': return { inPlace: true, confirmVmName: o.confirm };
    case 'dir': return { toDir: o.toDir, format: o.format, ...disk };
    case 'download': return { download: true, format: o.format, ...disk };
  }
}

export function RestoreDialog({ backup, onClose, initialMode = 'vm' }: { backup: Backup; onClose(): void; initialMode?: Mode }) {
  const can = useCan();
  // A viewer may browse a backup's files but restore nothing: the choices follow the role.
  const modes = MODES.filter((m) => (m.value === 'files' ? can('GET /api/v1/backups/{repository}/{backupId}/files') : can('POST /api/v1/backups/{repository}/{backupId}/restore')));
  const [mode, setMode] = useState<Mode>(modes.some((m) => m.value === initialMode) ? initialMode : modes[0]?.value ?? 'files');
  const [o, setO] = useState<Options>({ asVm: `${backup.vmName}-restored`, toDir: '', disk: '', start: false, noNetwork: true, confirm: '', format: 'raw', place: { host: null, pool: null } });
  const set = <K extends keyof Options>(key: K) => (value: Options[K]) => setO((prev) => ({ ...prev, [key]: value }));
  const navigate = useNavigate();
  const restore = useMutation({
    mutationFn: () => call(api.POST('/api/v1/backups/{repository}/{backupId}/restore', {
      params: { path: { repository: backup.repository, backupId: backup.backupId } }, body: requestOf(mode as Exclude<Mode, 'files'>, o),
    })),
    onSuccess: (job) => { onClose(); void navigate(`/jobs/${job.id}`); },
  });
  const format = (
    <Select label="Image format" data={[{ value: 'raw', label: 'raw (sparse)' }, { value: 'qcow2', label: 'qcow2' }]} value={o.format}
      onChange={(v) => set('format')(v === 'qcow2' ? 'qcow2' : 'raw')} allowDeselect={false} />
  );
  return (
    <Modal opened onClose={onClose} closeButtonProps={{ 'aria-label': 'Close' }} title={`Restore ${backup.vmName} from ${formatTime(backup.timeMs)}`} size={mode === 'files' ? 'xl' : 'lg'}>
      {/* The file browser has its own search form, and forms do not nest: it gets a plain box (with no
          submit handler: React would bubble the search's submit up to it). */}
      <Box component={mode === 'files' ? 'div' : 'form'} onSubmit={mode === 'files' ? undefined : (e: FormEvent) => { e.preventDefault(); restore.mutate(); }}>
        <Stack>
          <SegmentedControl value={mode} onChange={(v) => setMode(v as Mode)} aria-label="Restore to" data={modes} fullWidth orientation="vertical" />
          {mode === 'vm' && (
            <>
              <TextInput label="Name of the new VM" required value={o.asVm} onChange={(e) => set('asVm')(e.currentTarget.value)} />
              <RestorePlace backupHost={backup.host} value={o.place} onChange={set('place')} />
              <Checkbox label="Without network interfaces (so it cannot clash with the original)" checked={o.noNetwork} onChange={(e) => set('noNetwork')(e.currentTarget.checked)} />
              <Checkbox label="Start it" checked={o.start} onChange={(e) => set('start')(e.currentTarget.checked)} />
            </>
          )}
          {mode === 'inplace' && (
            <>
              <Alert color="red" variant="light" title="This overwrites the VM's disks">
                <Text size="sm">Every disk of {backup.vmName} is replaced by this backup; what was written since is lost. The VM must be shut off.</Text>
              </Alert>
              <TextInput label={`Type ${backup.vmName} to confirm`} required autoComplete="off" value={o.confirm} onChange={(e) => set('confirm')(e.currentTarget.value)} />
            </>
          )}
          {mode === 'dir' && (
            <>
              <TextInput label="Directory on the agent's host" required placeholder="/var/tmp/restore" value={o.toDir} onChange={(e) => set('toDir')(e.currentTarget.value)} />
              {format}
            </>
          )}
          {mode === 'download' && format}
          {mode === 'files' && <FileBrowser backup={backup} />}
          {mode !== 'inplace' && mode !== 'files' && (
            <TextInput label={mode === 'download' ? 'Disk' : 'Only this disk (optional)'} required={mode === 'download'} placeholder="vda"
              value={o.disk} onChange={(e) => set('disk')(e.currentTarget.value)} />
          )}
          {mode === 'download' && <Text size="sm">The job restores and verifies the disk first; its page then offers the download.</Text>}
          <Text size="sm">Repository {backup.repository}, backup {backup.backupId}, {backup.consistency}-consistent.</Text>
          {restore.isError && <ErrorNotice error={restore.error} action="start the restore" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>{mode === 'files' ? 'Close' : 'Cancel'}</Button>
            {mode !== 'files' && <Button type="submit" color={mode === 'inplace' ? 'red' : undefined} loading={restore.isPending}>{mode === 'inplace' ? 'Overwrite and restore' : 'Restore'}</Button>}
          </Group>
        </Stack>
      </Box>
    </Modal>
  );
}
