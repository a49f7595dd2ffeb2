// A job's or a VM's state as a coloured badge; colours pass WCAG AA contrast in both themes.

import { Badge } from '@mantine/core';

const COLORS: Record<string, string> = {
  queued: 'gray', running: 'blue', paused: 'yellow', succeeded: 'green', warning: 'orange', failed: 'red',
  aborted: 'gray', interrupted: 'red', skipped: 'gray', ok: 'green', unverified: 'gray',
};

export function StateBadge({ state }: { state: string }) {
  return <Badge color={COLORS[state] ?? 'gray'} variant="outline" autoContrast>{state}</Badge>;
}
