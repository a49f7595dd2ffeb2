// vmbak backup: VMs into one or more repositories — running libvirt VMs (--vm, hot and
// incremental), or image files (--image, --domain-xml) for powered-off VMs and templates.
// The command parses options, wires job control and the progress bar, and prints; which VMs,
// the sweep and the warnings policy are the backup service's.

import type { Command } from 'commander';
import { VmbakError, formatBytes } from '../../core/index.ts';
import {
  backupVms, connectHypervisor, lazyRepoHandle, newProgress, type BackupSelection, type BackupVerdict, type VmOutcome,
} from '../../services/index.ts';
import { collect, openRepositoryAt, openRepositoryWith, repoLocations, withRepoOptions, type RepoOptions } from '../context.ts';
import { startProgressBar } from '../progress-bar.ts';
import { parseDurationMs, startJobControl } from '../../jobs/index.ts';
import { backupJson, backupSummary } from '../report.ts';

interface BackupOptions extends RepoOptions {
  image: string[];
  vm: string[];
  domainXml?: string;
  connect?: string;
  excludeDisk: string[];
  quiesce: string;
  preFreeze?: string;
  postThaw?: string;
  hookTimeout: string;
  scratchDir?: string;
  parallel: string;
  maxPause: string;
  spread?: boolean;
  copyTo: string[];
  copyToPassphraseFile?: string;
  json?: boolean;
  forceRead?: boolean;
  progress: boolean;
}

export function registerBackupCommand(program: Command): void {
  withRepoOptions(program.command('backup'))
    .description('back up VMs: running libvirt VMs by --vm, or image files by --image / --domain-xml')
    .option('--vm <name>', 'a VM name, UUID, glob or tag:NAME (repeatable); with --image, the name to record', collect, [])
    .option('--image <file>', 'a disk image file of one VM (repeat for each disk)', collect, [])
    .option('--domain-xml <file>', 'a libvirt domain XML: back up its disks and store the XML (powered-off VMs, templates)')
    .option('--connect <uri>', 'libvirt connection URI (default: $VMBAK_CONNECT or qemu:///system)')
    .option('--exclude-disk <target>', 'leave out this disk (repeatable; recorded in the manifest)', collect, [])
    .option('--quiesce <mode>', 'auto (freeze when the guest agent answers), require, or off', 'auto')
    .option('--pre-freeze <command>', 'host command run before the guest filesystems are frozen')
    .option('--post-thaw <command>', 'host command run after they are thawed')
    .option('--hook-timeout <seconds>', 'time limit of each hook command', '60')
    .option('--scratch-dir <dir>', 'where libvirt keeps the backup job\'s scratch files (default: $VMBAK_SCRATCH_DIR or /var/lib/vmbak/scratch)')
    .option('--parallel <n>', 'VMs backed up at once', '2')
    .option('--spread', 'spread VMs over the --repo targets (each VM keeps a stable primary) instead of failing over in order')
    .option('--copy-to <location>', 'also write the same backup, from the same reads, to this repository (repeatable; a failed copy exits 3)', collect, [])
    .option('--copy-to-passphrase-file <file>', 'passphrase of the --copy-to repositories (default: $VMBAK_TO_PASSPHRASE, $VMBAK_PASSPHRASE, or a prompt)')
    .option('--max-pause <duration>', 'abort the backup when a pause (SIGUSR1, vmbak jobs pause) lasts longer', '30m')
    .option('--force-read', 'read image files even when their size, mtime, ctime and inode match the previous backup')
    .option('--json', 'print one JSON line per VM (see docs/cli.md)')
    .option('--no-progress', 'no progress bar')
    .action(async (opts: BackupOptions) => {
      const parallel = Number(opts.parallel);
      if (!Number.isInteger(parallel) || parallel < 1) throw new VmbakError('USAGE', { detail: `--parallel ${opts.parallel}: give a whole number from 1` });
      if (!['auto', 'require', 'off'].includes(opts.quiesce)) throw new VmbakError('USAGE', { detail: `--quiesce ${opts.quiesce}: give auto, require or off` });
      const hookTimeoutS = Number(opts.hookTimeout);
      if (!Number.isFinite(hookTimeoutS) || hookTimeoutS <= 0) throw new VmbakError('USAGE', { detail: `--hook-timeout ${opts.hookTimeout}: give seconds, more than 0` });
      const locations = repoLocations(opts);
      if (opts.spread && locations.length < 2) throw new VmbakError('USAGE', { detail: '--spread needs two or more --repo targets' });
      const same = opts.copyTo.find((c) => locations.includes(c));
      if (same) throw new VmbakError('USAGE', { detail: `--copy-to ${same} is also a --repo target` });
      const targets = locations.map((location, n) => lazyRepoHandle(location, () => openRepositoryAt(location, opts, n)));
      const copyTargets = opts.copyTo.map((location) => lazyRepoHandle(location, () => openRepositoryWith(location, opts.copyToPassphraseFile, 'VMBAK_TO_PASSPHRASE')));
      const maxPauseMs = parseDurationMs(opts.maxPause, '--max-pause');
      const selection = selectionOf(opts);
      const progress = newProgress(Date.now());
      const control = startJobControl({ command: 'backup', vms: opts.vm.length > 0 ? opts.vm : opts.image, progress, maxPauseMs });
      let stopBar = (): void => {};
      try {
        const { verdict } = await backupVms({
          selection, targets, copyTargets, spread: opts.spread === true, parallelStreams: parallel,
          excludeDisks: opts.excludeDisk, forceRead: opts.forceRead === true, quiesce: opts.quiesce as 'auto' | 'require' | 'off',
          hooks: { preFreeze: opts.preFreeze, postThaw: opts.postThaw, timeoutMs: Math.round(hookTimeoutS * 1000) },
        }, {
          signal: control.signal, progress, gate: control.gate,
          onStart: (vms) => { stopBar = startProgressBar(progress, vms.length === 1 ? vms[0]!.name : `${vms.length} VMs`, opts.progress && !opts.json); },
          onOutcome: (o) => { stopBar(); report(o, opts.json === true, targets.length + copyTargets.length > 1); },
          onNotice: (message) => { process.stderr.write(`vmbak: ${message}\n`); },
        }).finally(() => stopBar());
        exitWith(verdict);
      } finally {
        control.stop();
      }
    });
}

/** --image / --domain-xml name one VM's files (--vm is then its name); otherwise --vm selects hypervisor VMs. */
function selectionOf(opts: BackupOptions): BackupSelection {
  if (opts.image.length > 0 || opts.domainXml) {
    if (opts.vm.length > 1) throw new VmbakError('USAGE', { detail: 'with --image or --domain-xml, --vm names the one VM the images belong to' });
    return opts.domainXml
      ? { kind: 'domain-xml', domainXmlPath: opts.domainXml, images: opts.image, vmName: opts.vm[0] }
      : { kind: 'images', images: opts.image, vmName: opts.vm[0] };
  }
  if (opts.vm.length === 0) throw new VmbakError('USAGE', { detail: 'backup needs --vm NAME (libvirt), or --image FILE / --domain-xml FILE' });
  return { kind: 'hypervisor', hypervisor: connectHypervisor({ uri: opts.connect, scratchDir: opts.scratchDir }), vms: opts.vm };
}

function report(o: VmOutcome, json: boolean, manyTargets: boolean): void {
  // With one target the final error says it all; with several, the way there matters.
  if (manyTargets) for (const e of o.events) process.stderr.write(`vmbak: ${o.vm.name}: ${e}\n`);
  if (o.manifest) {
    process.stdout.write(json ? `${JSON.stringify({ ...backupJson(o.manifest, o.repo!, o.copies.map((c) => ({ repo: c.repo, ok: c.ok, error: c.error, backupId: c.backupId }))), events: o.events })}\n` : backupSummary(o.manifest, o.repo!));
    if (!json) for (const c of o.copies) process.stdout.write(c.ok ? `  copy ${c.backupId} in ${c.repo}: new ${formatBytes(c.bytesNew)}\n` : `  copy to ${c.repo} MISSING: ${c.error}\n`);
  } else if (json) {
    process.stdout.write(`${JSON.stringify({ backupId: null, vm: o.vm.name, repo: o.repo, error: o.error?.message ?? 'failed', code: o.error?.code ?? 'INTERNAL', events: o.events })}\n`);
  }
}

/**
 * The verdict as the command's ending: nothing on success; on a warning every failed VM on
 * stderr, then exit 3; on a failure the other VMs' errors, then the first one's (its own code).
 */
function exitWith(verdict: BackupVerdict): void {
  if (verdict.status === 'succeeded') return;
  const printed = verdict.status === 'failed' ? verdict.failures.slice(1) : verdict.failures;
  for (const f of printed) process.stderr.write(`vmbak: ${f.vm}: ${f.error?.message ?? 'failed'}\n`);
  throw verdict.error!;
}
