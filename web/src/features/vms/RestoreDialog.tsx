// Restoring one backup, in two steps: where to (a directory on the agent's host, or a new VM),
// then the options of that choice; the job it queues opens on its own page.

import { Button, Checkbox, Group, Modal, SegmentedControl, Stack, Text, TextInput } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { api, call, type Backup, type RestoreRequest } from '../../api/index.ts';
import { ErrorNotice, formatTime } from '../../ui/index.ts';

export function RestoreDialog({ backup, onClose }: { backup: Backup; onClose(): void }) {
  const [mode, setMode] = useState<'vm' | 'dir'>('vm');
  const [asVm, setAsVm] = useState(`${backup.vmName}-restored`);
  const [toDir, setToDir] = useState('');
  const [disk, setDisk] = useState('');
  const [start, setStart] = useState(false);
  const [noNetwork, setNoNetwork] = useState(true);
  const navigate = useNavigate();
  const restore = useMutation({
    mutationFn: () => {
      const body: RestoreRequest = mode === 'vm' ? { asVm, start, noNetwork, ...(disk ? { disk } : {}) } : { toDir, ...(disk ? { disk } : {}) };
      return call(api.POST('/api/v1/backups/{repository}/{backupId}/restore', { params: { path: { repository: backup.repository, backupId: backup.backupId } }, body }));
    },
    onSuccess: (job) => { onClose(); void navigate(`/jobs/${job.id}`); },
  });
  return (
    <Modal opened onClose={onClose} closeButtonProps={{ "aria-label": "Close" }} title={`Restore ${backup.vmName} from ${formatTime(backup.timeMs)}`} size="lg">
      <form onSubmit={(e) => { e.preventDefault(); restore.mutate(); }}>
        <Stack>
          <SegmentedControl value={mode} onChange={(v) => setMode(v as 'vm' | 'dir')} aria-label="Restore to"
            data={[{ value: 'vm', label: 'As a new VM' }, { value: 'dir', label: 'Disk images to a directory' }]} />
          {mode === 'vm' ? (
            <>
              <TextInput label="Name of the new VM" required value={asVm} onChange={(e) => setAsVm(e.currentTarget.value)} />
              <Checkbox label="Without network interfaces (so it cannot clash with the original)" checked={noNetwork} onChange={(e) => setNoNetwork(e.currentTarget.checked)} />
              <Checkbox label="Start it" checked={start} onChange={(e) => setStart(e.currentTarget.checked)} />
            </>
          ) : (
            <TextInput label="Directory on the agent's host" required placeholder="/var/tmp/restore" value={toDir} onChange={(e) => setToDir(e.currentTarget.value)} />
          )}
          <TextInput label="Only this disk (optional)" placeholder="vda" value={disk} onChange={(e) => setDisk(e.currentTarget.value)} />
          <Text size="sm">Repository {backup.repository}, backup {backup.backupId}, {backup.consistency}-consistent.</Text>
          {restore.isError && <ErrorNotice error={restore.error} action="start the restore" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>Cancel</Button>
            <Button type="submit" loading={restore.isPending}>Restore</Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
