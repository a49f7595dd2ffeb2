import { Group, Title } from '@mantine/core';
import { useEffect, type ReactNode } from 'react';

/** The page's heading (also the document title) and its actions. */
export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  useEffect(() => { document.title = `${title} · vmbak`; }, [title]);
  return (
    <Group justify="space-between" mb="md" wrap="wrap">
      {/* Long ids (a job's) break anywhere rather than push a phone's page sideways. */}
      <Title order={1} size="h2" style={{ overflowWrap: 'anywhere', minWidth: 0 }}>{title}</Title>
      {children && <Group gap="xs">{children}</Group>}
    </Group>
  );
}
