// A spinner while something loads. role="status" gives its label a role that may carry one
// (axe: aria-prohibited-attr on a bare span), and screen readers hear what is loading.

import { Center, Loader } from '@mantine/core';

export function Loading({ what }: { what: string }) {
  return <Center p="xl"><Loader role="status" aria-label={`Loading ${what}`} /></Center>;
}
