// vmbak jobs ls | pause | resume | abort: the running backups of this host, found through
// their job records in the state dir, controlled by signalling the owner process (SIGUSR1
// pause, SIGUSR2 resume, SIGTERM abort). A record whose owner is dead is removed when listed;
// one whose owner runs on another host is shown but never signalled (the jobs service).

import type { Command } from 'commander';
import { formatBytes } from '../../core/index.ts';
import { JOB_ACTIONS, connectHypervisor, controlJob, listJobs, type JobAction } from '../../services/index.ts';

interface JobsOptions { stateDir?: string; json?: boolean }

export function registerJobsCommands(program: Command): void {
  const jobs = program.command('jobs').description('running backups on this host: list, pause, resume, abort');
  jobs.command('ls')
    .description('list running backups (job id, pid, state, VMs, bytes read)')
    .option('--state-dir <dir>', 'run records directory (default: $VMBAK_STATE_DIR or /var/lib/vmbak/runs)')
    .option('--json', 'print one JSON array (see docs/cli.md)')
    .action((opts: JobsOptions) => printJobs(opts));
  for (const [name, action] of Object.entries(JOB_ACTIONS)) {
    jobs.command(name)
      .description(`${name} a running backup (sends ${action.signal} to its process)`)
      .argument('<jobId>', 'job id from vmbak jobs ls')
      .option('--state-dir <dir>', 'run records directory (default: $VMBAK_STATE_DIR or /var/lib/vmbak/runs)')
      .action(async (jobId: string, opts: JobsOptions) => {
        await controlJob(jobId, name as JobAction, { stateDir: opts.stateDir });
        process.stdout.write(`job ${jobId} ${action.verb}\n`);
      });
  }
}

async function printJobs(opts: JobsOptions): Promise<void> {
  const rows = await listJobs({ stateDir: opts.stateDir }, connectHypervisor({ stateDir: opts.stateDir }));
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
