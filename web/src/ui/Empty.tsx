// What a list says when it has nothing to show, and what to do about it.

import { Paper, Text } from '@mantine/core';
import type { ReactNode } from 'react';

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <Paper withBorder p="lg" ta="center">
      <Text fw={600}>{title}</Text>
      {children && <Text size="sm" mt="xs">{children}</Text>}
    </Paper>
  );
}
