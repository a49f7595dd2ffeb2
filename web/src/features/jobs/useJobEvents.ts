// One job live (GET /jobs/{id}/events): its log lines as they come, and its newest update.
// The server ends the stream when the job finishes; the job's record is then read again so
// the page shows the final state, error and per-VM results.

import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { followEvents, type DiskUpdate, type JobLogLine, type JobUpdate } from '../../api/index.ts';

export interface JobEvents {
  readonly lines: readonly JobLogLine[];
  readonly update: JobUpdate | undefined;
  readonly live: boolean;
  /** The newest per-disk progress seen; kept when later updates (the job's end) carry none. */
  readonly disks: readonly DiskUpdate[];
}

export function useJobEvents(jobId: string, finished: boolean): JobEvents {
  const [lines, setLines] = useState<JobLogLine[]>([]);
  const [update, setUpdate] = useState<JobUpdate>();
  const [live, setLive] = useState(false);
  const [disks, setDisks] = useState<readonly DiskUpdate[]>([]);
  const queryClient = useQueryClient();
  useEffect(() => {
    setLines([]);
    setUpdate(undefined);
    setDisks([]);
    const abort = new AbortController();
    const seen = new Set<number>();
    let refresh: ReturnType<typeof setTimeout> | null = null;
    const refreshJob = () => {
      refresh ??= setTimeout(() => { refresh = null; void queryClient.invalidateQueries({ queryKey: ['job', jobId] }); }, 500);
    };
    setLive(true);
    void followEvents(`/api/v1/jobs/${encodeURIComponent(jobId)}/events`, {
      signal: abort.signal,
      endsWhenClosed: true,
      onEvent: ({ event, data }) => {
        if (event === 'log') {
          const line = data as JobLogLine;
          if (seen.has(line.id)) return;
          seen.add(line.id);
          setLines((old) => [...old, line]);
        } else if (event === 'update') {
          const u = data as JobUpdate;
          setUpdate(u);
          if (u.disks && u.disks.length > 0) setDisks(u.disks);
          if (u.message) setLines((old) => [...old, { id: -u.atMs, jobId, timeMs: u.atMs, level: 'info', vmKey: null, message: u.message! }]);
          refreshJob();
        }
      },
    }).finally(() => {
      if (abort.signal.aborted) return;
      setLive(false);
      void queryClient.invalidateQueries({ queryKey: ['job', jobId] });
    });
    return () => {
      abort.abort();
      if (refresh) clearTimeout(refresh);
    };
    // A finished job's stream sends its log and closes at once; reopening on `finished` is not needed.
  }, [jobId, queryClient]);
  return { lines, update, live: live && !finished, disks };
}
