// vmbak instant ls|migrate|resume|stop: the VMs `restore --instant` runs from backups on this
// host, and `instant serve`, the detached process that serves one of them (started by restore
// --instant and resume; not for people to run).

import type { Command } from 'commander';
import { describeError, formatBytes } from '../../core/index.ts';
import { defaultStateDir } from '../../host/index.ts';
import {
  connectHypervisor, listInstantVms, migrateInstantVm, requireInstantRecord, resumeInstantVm, serveInstantVm, stopInstantVm,
} from '../../services/index.ts';
import { openRepository, withRepoOptions, type RepoOptions } from '../context.ts';
import { instantServerStarter } from '../instant-server.ts';

interface ConnectOptions {
  connect?: string;
}

export function registerInstantCommands(program: Command): void {
  const instant = program.command('instant').description('VMs running straight from a backup (vmbak restore --instant)');
  const connect = (cmd: Command): Command => cmd.option('--connect <uri>', 'libvirt connection URI (default: $VMBAK_CONNECT or qemu:///system)');

  connect(instant.command('ls'))
    .description('list the instant-recovery VMs of this host: VM state, export process, bytes read from the repository')
    .option('--json', 'one JSON object per VM per line')
    .action(async (opts: ConnectOptions & { json?: boolean }) => {
      const stateDir = defaultStateDir();
      const vms = await listInstantVms(connectHypervisor({ uri: opts.connect, stateDir }), stateDir);
      for (const v of vms) {
        const row = {
          vm: v.record.vmName, backupId: v.record.backupId, sourceVm: v.record.sourceVm, vmState: v.vmState, serverPid: v.serverPid,
          exportState: v.serverPid === null ? 'down' : v.status!.state, packBytesRead: v.status?.packBytesRead ?? 0,
          alert: v.status?.alert ?? null, socket: v.record.socketPath, overlays: v.record.overlays.map((o) => o.path),
        };
        if (opts.json) { process.stdout.write(`${JSON.stringify(row)}\n`); continue; }
        process.stdout.write(`${row.vm}  ${row.vmState}  export ${row.exportState}${row.serverPid ? ` (pid ${row.serverPid})` : ''}  `
          + `backup ${row.backupId} of ${row.sourceVm}  ${formatBytes(row.packBytesRead)} read${row.alert ? `  ALERT: ${row.alert}` : ''}\n`);
      }
      if (!opts.json && vms.length === 0) process.stdout.write('no instant-recovery VMs on this host\n');
    });

  connect(instant.command('migrate'))
    .description('copy the rest of the backup into the VM\'s local overlays while it runs, then stop its export')
    .argument('<name>', 'the instant-recovery VM')
    .option('--no-progress', 'no progress lines')
    .action(async (name: string, opts: ConnectOptions & { progress: boolean }) => {
      const stateDir = defaultStateDir();
      await runMigrate(connectHypervisor({ uri: opts.connect, stateDir }), stateDir, name, opts.progress);
    });

  withRepoOptions(connect(instant.command('resume')))
    .description('restart the VM\'s export if its process is gone, and resume the VM if it is paused')
    .argument('<name>', 'the instant-recovery VM')
    .action(async (name: string, opts: RepoOptions & ConnectOptions) => {
      const stateDir = defaultStateDir();
      const done = await resumeInstantVm(connectHypervisor({ uri: opts.connect, stateDir }), stateDir, name, instantServerStarter(opts, stateDir));
      process.stdout.write(`${done.restarted ? 'export restarted' : 'export was running'}; VM ${name} ${done.resumed ? 'resumed' : 'was not paused'}\n`);
    });

  connect(instant.command('stop'))
    .description('destroy and undefine the VM, remove its overlays and stop its export (its guest writes are lost)')
    .argument('<name>', 'the instant-recovery VM')
    .action(async (name: string, opts: ConnectOptions) => {
      const stateDir = defaultStateDir();
      await stopInstantVm(connectHypervisor({ uri: opts.connect, stateDir }), stateDir, name);
      process.stdout.write(`stopped instant-recovery VM ${name}: VM, overlays and export removed\n`);
    });

  withRepoOptions(connect(instant.command('serve', { hidden: true })))
    .description('serve an instant-recovery VM\'s backup over NBD until SIGTERM (started by restore --instant and instant resume)')
    .argument('<name>', 'the instant-recovery VM')
    .action(async (name: string, opts: RepoOptions & ConnectOptions) => {
      const stateDir = defaultStateDir();
      const record = requireInstantRecord(stateDir, name);
      const log = (line: string): void => { process.stdout.write(`${new Date().toISOString()} ${line}\n`); };
      const stop = new Promise<string>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      const repo = await openRepository(opts.repo.length > 0 || process.env.VMBAK_REPO ? opts : { ...opts, repo: [record.repo] });
      try {
        await serveInstantVm({ repo, hypervisor: connectHypervisor({ uri: opts.connect, stateDir }), stateDir, record, stop, log });
      } catch (err) {
        log(`export stopped: ${describeError(err)}`);
        throw err;
      } finally {
        await repo.target.close();
      }
    });
}

/** Progress: one line per disk per 10 % on a pipe; a rewritten line on a terminal. */
export async function runMigrate(hypervisor: ReturnType<typeof connectHypervisor>, stateDir: string, name: string, progress: boolean): Promise<void> {
  const shown = new Map<string, number>();
  const tty = process.stderr.isTTY;
  await migrateInstantVm(hypervisor, stateDir, name, (disk, fraction) => {
    if (!progress) return;
    const pct = Math.floor(fraction * 100);
    if (tty) { process.stderr.write(`\rmigrate ${name}: disk ${disk} ${pct} %`); return; }
    if (pct < (shown.get(disk) ?? -10) + 10 && pct !== 100) return;
    shown.set(disk, pct);
    process.stderr.write(`migrate ${name}: disk ${disk} ${pct} %\n`);
  });
  if (progress && tty) process.stderr.write('\n');
  process.stdout.write(`migrated VM ${name} to local storage: its export is stopped and it no longer depends on the repository\n`);
}
