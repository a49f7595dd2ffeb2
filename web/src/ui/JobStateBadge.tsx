// A job's or a VM's state as a badge: the word in the page's text colour (so it reads at AA
// contrast in both themes) beside a dot in the state's colour.

import { Badge } from '@mantine/core';

const COLORS: Record<string, string> = {
  queued: 'gray', running: 'blue', paused: 'yellow', succeeded: 'green', warning: 'orange', failed: 'red',
  aborted: 'gray', interrupted: 'red', skipped: 'gray', ok: 'green', unverified: 'gray',
};

export function StateBadge({ state }: { state: string }) {
  return <Badge color={COLORS[state] ?? 'gray'} variant="dot">{state}</Badge>;
}
