// A job's log, newest at the bottom, in a region screen readers announce politely.

import { Code, ScrollArea, Text } from '@mantine/core';
import { useEffect, useRef } from 'react';
import type { JobLogLine } from '../../api/index.ts';
import { formatTime } from '../../ui/index.ts';

const LEVEL_MARK: Record<string, string> = { debug: 'debug', info: 'info ', warning: 'WARN ', error: 'ERROR' };

/** `names`: VM keys (UUIDs) to the names the job knows them by, so lines say which VM by name. */
export function JobLog({ lines, names }: { lines: readonly JobLogLine[]; names: ReadonlyMap<string, string> }) {
  const viewport = useRef<HTMLDivElement>(null);
  useEffect(() => { viewport.current?.scrollTo({ top: viewport.current.scrollHeight }); }, [lines.length]);
  if (lines.length === 0) return <Text size="sm">No log lines yet.</Text>;
  return (
    <ScrollArea h={320} viewportRef={viewport} type="auto" viewportProps={{ tabIndex: 0, 'aria-label': 'Job log' }}>
      {/* Long lines wrap: the scroll area is the one scrolling, focusable region (a <pre> that scrolled on its own could not be reached by keyboard). */}
      <Code block aria-live="polite" data-testid="job-log" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere', overflow: 'visible' }}>
        {lines.map((l) => `${formatTime(l.timeMs)} ${LEVEL_MARK[l.level] ?? l.level} ${l.vmKey ? `[${names.get(l.vmKey) ?? l.vmKey}] ` : ''}${l.message}`).join('\n')}
      </Code>
    </ScrollArea>
  );
}
