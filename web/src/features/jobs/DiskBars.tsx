// One bar per disk of a running backup (the `disks` of the job's updates): bytes read of what
// the disk's read plan holds, and its own rate. The last disks seen stay after the job ends,
// so a short job still shows what each disk took.

import { Group, Progress, Stack, Text } from '@mantine/core';
import type { DiskUpdate } from '../../api/index.ts';
import { formatBytes, formatRate } from '../../ui/index.ts';

export function DiskBars({ disks }: { disks: readonly DiskUpdate[] }) {
  if (disks.length === 0) return null;
  return (
    <Stack gap="xs" data-testid="disk-progress" component="section" aria-label="Progress per disk">
      {disks.map((d) => {
        const percent = d.bytesTotal > 0 ? Math.min(100, (d.bytesRead / d.bytesTotal) * 100) : d.done ? 100 : 0;
        const label = `${d.vm} ${d.disk}`;
        return (
          <div key={label}>
            <Group justify="space-between" gap="xs" wrap="wrap">
              <Text size="sm" fw={600}>{label}</Text>
              <Text size="xs">
                {formatBytes(d.bytesRead)} of {formatBytes(d.bytesTotal)} · {formatRate(d.rateBytesPerSec)}{d.done ? ' · done' : ''}
              </Text>
            </Group>
            <Progress value={percent} aria-label={`Disk ${label}: ${percent.toFixed(0)} %`} animated={!d.done} />
          </div>
        );
      })}
    </Stack>
  );
}
