// vmbak jobs ls | pause | resume | abort: the running backups of this host, found through
// their job records in the state dir, controlled by signalling the owner process (SIGUSR1
// pause, SIGUSR2 resume, SIGTERM abort). A record whose owner is dead is removed when listed;
// one whose owner runs on another host is shown but never signalled.

import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { VmbakError, formatBytes } from '../../core/index.ts';
import { libvirt } from '../../hypervisors/index.ts';
import { jobOwnerStatus, jobsDir, readJobRecords, removeJobRecord, type JobRecord } from '../../jobs/index.ts';

interface JobsOptions { stateDir?: string; json?: boolean }

const ACTIONS = {
  pause: { signal: 'SIGUSR1', done: (r: JobRecord | null) => r?.state === 'paused', verb: 'paused' },
  resume: { signal: 'SIGUSR2', done: (r: JobRecord | null) => r?.state === 'running', verb: 'resumed' },
  abort: { signal: 'SIGTERM', done: (r: JobRecord | null) => r === null || r.state === 'aborting', verb: 'aborted' },
} as const;

export function registerJobsCommands(program: Command): void {
  const jobs = program.command('jobs').description('running backups on this host: list, pause, resume, abort');
  jobs.command('ls')
    .description('list running backups (job id, pid, state, VMs, bytes read)')
    .option('--state-dir <dir>', 'run records directory (default: $VMBAK_STATE_DIR or /var/lib/vmbak/runs)')
    .option('--json', 'print one JSON array (see docs/cli.md)')
    .action((opts: JobsOptions) => listJobs(opts));
  for (const [name, action] of Object.entries(ACTIONS)) {
    jobs.command(name)
      .description(`${name} a running backup (sends ${action.signal} to its process)`)
      .argument('<jobId>', 'job id from vmbak jobs ls')
      .option('--state-dir <dir>', 'run records directory (default: $VMBAK_STATE_DIR or /var/lib/vmbak/runs)')
      .action((jobId: string, opts: JobsOptions) => signalJob(jobId, name as keyof typeof ACTIONS, opts));
  }
}

function liveJobs(opts: JobsOptions): JobRecord[] {
  const dir = jobsDir(opts.stateDir);
  const live: JobRecord[] = [];
  for (const r of readJobRecords(dir)) {
    if (jobOwnerStatus(r) === 'dead') removeJobRecord(dir, r.jobId);
    else live.push(r);
  }
  return live;
}

function listJobs(opts: JobsOptions): void {
  const jobs = liveJobs(opts);
  const runs = libvirt.readRunRecords(opts.stateDir ?? libvirt.defaultStateDir());
  const rows = jobs.map((j) => ({
    ...j,
    foreign: jobOwnerStatus(j) === 'foreign',
    // The libvirt backup jobs this process holds open right now.
    hotRuns: runs.filter((r) => r.host === j.host && r.pid === j.pid).map((r) => ({ runId: r.runId, vm: r.vmName, checkpoint: r.checkpoint })),
  }));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  process.stdout.write(`${'JOB'.padEnd(16)}${'PID'.padEnd(9)}${'STATE'.padEnd(10)}${'READ'.padEnd(22)}VMS\n`);
  for (const r of rows) {
    process.stdout.write(`${r.jobId.padEnd(16)}${String(r.pid).padEnd(9)}${r.state.padEnd(10)}`
      + `${`${formatBytes(r.bytesRead)} / ${formatBytes(r.bytesToRead)}`.padEnd(22)}${r.vms.join(', ')}${r.foreign ? ` (on ${r.host})` : ''}\n`);
  }
}

async function signalJob(jobId: string, name: keyof typeof ACTIONS, opts: JobsOptions): Promise<void> {
  const action = ACTIONS[name];
  const dir = jobsDir(opts.stateDir);
  const record = readJobRecords(dir).find((r) => r.jobId === jobId);
  if (!record) throw new VmbakError('JOB_NOT_FOUND', { jobId });
  const status = jobOwnerStatus(record);
  if (status === 'foreign') throw new VmbakError('JOB_NOT_RUNNING', { jobId, op: action.verb, detail: `it runs on host ${record.host}; run this there` });
  if (status === 'dead') {
    removeJobRecord(dir, jobId);
    throw new VmbakError('JOB_NOT_RUNNING', { jobId, op: action.verb, detail: `its process ${record.pid} is gone (the next backup cleans up after it)` });
  }
  process.kill(record.pid, action.signal);
  // The owner publishes its new state at once; wait briefly so the answer is the truth.
  const deadline = Date.now() + 5000;
  for (;;) {
    const now = readJobRecords(dir).find((r) => r.jobId === jobId) ?? null;
    if (action.done(now) || now === null) break;
    if (Date.now() > deadline) {
      throw new VmbakError('JOB_NOT_RUNNING', { jobId, op: action.verb, detail: `process ${record.pid} did not confirm within 5 s` });
    }
    await sleep(100);
  }
  process.stdout.write(`job ${jobId} ${action.verb}\n`);
}
