// The controller's view of a fleet run, through its API: jobs by host (GET /api/v1/jobs shows
// which host ran each), whether a job ran again after its agent died, and whether any firing
// was lost (a host without its job) or repeated (two jobs, or one job run twice).

export type Api = <T>(method: string, path: string, body?: unknown) => Promise<T>;

export interface ApiJob {
  readonly id: string;
  readonly kind: string;
  readonly state: string;
  readonly host: string | null;
  readonly trigger: string;
  readonly params: { fireMs?: number; vms?: string[] };
  readonly error: string | null;
}

export interface JobDetail {
  readonly job: ApiJob;
  readonly vms: { vmName: string; state: string; error: string | null }[];
  readonly events: { message: string; level?: string }[];
}

export interface HostTally {
  succeeded: number;
  failed: number;
  retried: number;
}

export async function listJobs(api: Api): Promise<ApiJob[]> {
  return (await api<{ items: ApiJob[] }>('GET', '/jobs?limit=1000')).items;
}

export const isActive = (j: ApiJob): boolean => ['queued', 'running', 'paused'].includes(j.state);

/** Per host: jobs succeeded, failed, and run again after an attempt stopped (a dead agent's). */
export async function tallyByHost(api: Api, jobs: readonly ApiJob[]): Promise<{ hosts: Record<string, HostTally>; runs: Map<string, number>; details: Map<string, JobDetail> }> {
  const hosts: Record<string, HostTally> = {};
  const runs = new Map<string, number>();
  const details = new Map<string, JobDetail>();
  for (const j of jobs.filter((x) => x.kind === 'backup')) {
    const host = j.host ?? '(none)';
    const t = (hosts[host] ??= { succeeded: 0, failed: 0, retried: 0 });
    if (j.state === 'succeeded' || j.state === 'warning') t.succeeded++;
    else if (!isActive(j)) t.failed++;
    const detail = await api<JobDetail>('GET', `/jobs/${j.id}`);
    details.set(j.id, detail);
    const started = detail.events.filter((e) => /^running (again )?on /.test(e.message));
    runs.set(j.id, started.length);
    if (started.some((e) => /^running again on /.test(e.message))) t.retried++;
  }
  return { hosts, runs, details };
}

/**
 * Scheduled firings each host lacks or has twice, and jobs started more often than their
 * retries explain. `expectedRetries` are the jobs a deliberate kill made run again. A firing
 * the controller skipped on a host because the policy's previous run there had not finished
 * (that run's log says so) is not lost: it is listed in `skipped`.
 */
export function lostAndDuplicated(
  jobs: readonly ApiJob[], runs: Map<string, number>, hostNames: readonly string[], expectedRetries: ReadonlySet<string>, details: ReadonlyMap<string, JobDetail>,
): { lost: string[]; duplicated: string[]; skipped: string[] } {
  const skips = new Set([...details.values()].flatMap((d) => d.events.map((e) => /^the firing of (\S+) was skipped on (\S+):/.exec(e.message)))
    .filter((m): m is RegExpExecArray => m !== null).map((m) => `${m[1]} ${m[2]}`));
  const skipped: string[] = [];
  const scheduled = jobs.filter((j) => j.kind === 'backup' && j.trigger === 'schedule');
  const fires = [...new Set(scheduled.map((j) => j.params.fireMs))].filter((f): f is number => typeof f === 'number');
  const lost: string[] = [];
  const duplicated: string[] = [];
  for (const fire of fires) {
    const at = new Date(fire).toISOString();
    const ofFire = scheduled.filter((j) => j.params.fireMs === fire);
    for (const h of hostNames) {
      const n = ofFire.filter((j) => j.host === h).length;
      if (n === 0 && skips.has(`${at} ${h}`)) skipped.push(`firing ${at} on ${h}: the previous run there had not finished`);
      else if (n === 0) lost.push(`firing ${at}: no job on ${h}`);
      if (n > 1) duplicated.push(`firing ${at}: ${n} jobs on ${h}`);
    }
  }
  for (const [id, n] of runs) {
    const allowed = expectedRetries.has(id) ? 2 : 1;
    if (n > allowed) duplicated.push(`job ${id} started ${n} times`);
    if (n === 0 && !isActive(jobs.find((j) => j.id === id)!)) lost.push(`job ${id} never ran on an agent`);
  }
  return { lost, duplicated, skipped };
}
