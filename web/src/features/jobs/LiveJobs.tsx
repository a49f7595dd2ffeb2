// One stream of every job's changes for the whole console (GET /jobs/stream), opened after
// login: it keeps the newest update of each job for progress bars, and when a job changes
// state it refreshes the lists that show jobs, backups and protection.

import { useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { followEvents, type Job, type JobState, type JobUpdate } from '../../api/index.ts';

export type LiveJobs = ReadonlyMap<string, JobUpdate>;

const LiveJobsContext = createContext<LiveJobs>(new Map());

export const useLiveJobs = (): LiveJobs => useContext(LiveJobsContext);

const fromJob = (job: Job): JobUpdate => ({
  jobId: job.id, kind: job.kind, state: job.state, bytesRead: job.bytesRead, bytesWritten: job.bytesWritten,
  bytesTotal: null, rateBytesPerSec: 0, message: null, atMs: Date.now(),
});

/** Query keys whose answers change when a job changes state. */
const STATE_DEPENDENT = [['jobs'], ['job'], ['dashboard'], ['backups'], ['vms'], ['vm']];

export function LiveJobsProvider({ children }: { children: ReactNode }) {
  const [jobs, setJobs] = useState<LiveJobs>(new Map());
  const queryClient = useQueryClient();
  useEffect(() => {
    const abort = new AbortController();
    // The stream's own record of each job's state, so a change of state is noticed outside a React state update.
    const states = new Map<string, JobState>();
    let refresh: ReturnType<typeof setTimeout> | null = null;
    const refreshSoon = () => {
      // Many jobs changing at once refresh the lists once.
      refresh ??= setTimeout(() => {
        refresh = null;
        for (const queryKey of STATE_DEPENDENT) void queryClient.invalidateQueries({ queryKey });
      }, 300);
    };
    void followEvents('/api/v1/jobs/stream', {
      signal: abort.signal,
      onEvent: ({ event, data }) => {
        if (event === 'jobs') {
          const active = data as Job[];
          states.clear();
          for (const job of active) states.set(job.id, job.state);
          setJobs(new Map(active.map((job) => [job.id, fromJob(job)])));
        } else if (event === 'update') {
          const update = data as JobUpdate;
          if (states.get(update.jobId) !== update.state) refreshSoon();
          states.set(update.jobId, update.state);
          setJobs((old) => new Map(old).set(update.jobId, update));
        }
      },
    });
    return () => {
      abort.abort();
      if (refresh) clearTimeout(refresh);
    };
  }, [queryClient]);
  return <LiveJobsContext.Provider value={jobs}>{children}</LiveJobsContext.Provider>;
}
