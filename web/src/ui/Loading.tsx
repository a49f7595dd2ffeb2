import { Center, Loader } from '@mantine/core';

export function Loading({ what }: { what: string }) {
  return <Center p="xl"><Loader aria-label={`Loading ${what}`} /></Center>;
}
