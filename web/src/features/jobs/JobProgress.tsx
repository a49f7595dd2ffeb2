// A job's progress: a bar when the total is known, else bytes so far, with the rate.

import { Group, Progress, Text } from '@mantine/core';
import type { JobUpdate } from '../../api/index.ts';
import { formatBytes, formatRate } from '../../ui/index.ts';

export function JobProgress({ update, label }: { update: JobUpdate | undefined; label: string }) {
  if (!update) return null;
  const percent = update.bytesTotal ? Math.min(100, (update.bytesRead / update.bytesTotal) * 100) : null;
  return (
    <div>
      {percent !== null && <Progress value={percent} aria-label={`${label}: ${percent.toFixed(0)} %`} animated={update.state === 'running'} />}
      <Group gap="xs" mt={4}>
        <Text size="xs">{formatBytes(update.bytesRead)} read{update.bytesTotal ? ` of ${formatBytes(update.bytesTotal)}` : ''}</Text>
        <Text size="xs">· {formatBytes(update.bytesWritten)} written</Text>
        {update.state === 'running' && update.rateBytesPerSec > 0 && <Text size="xs">· {formatRate(update.rateBytesPerSec)}</Text>}
      </Group>
    </div>
  );
}
