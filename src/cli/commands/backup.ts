// vmbak backup: VMs into one or more repositories — running libvirt VMs (--vm, hot and
// incremental), or image files (--image, --domain-xml) for powered-off VMs and templates.

import type { Command } from 'commander';
import { VmbakError, formatBytes } from '../../core/index.ts';
import { newProgress, runBackups, type RepoHandle, type VmJob, type VmOutcome } from '../../engine/index.ts';
import { imagesFromDomainXml, libvirt, openImageSession, type ImageSpec } from '../../hypervisors/index.ts';
import { listBackups } from '../../repository/index.ts';
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
      const targets: RepoHandle[] = locations.map((location, n) => ({ location, open: once(() => openRepositoryAt(location, opts, n)) }));
      const same = opts.copyTo.find((c) => locations.includes(c));
      if (same) throw new VmbakError('USAGE', { detail: `--copy-to ${same} is also a --repo target` });
      const copyTargets: RepoHandle[] = opts.copyTo.map((location) => ({ location, open: once(() => openRepositoryWith(location, opts.copyToPassphraseFile, 'VMBAK_TO_PASSPHRASE')) }));
      const maxPauseMs = parseDurationMs(opts.maxPause, '--max-pause');
      const progress = newProgress(Date.now());
      const control = startJobControl({ command: 'backup', vms: opts.vm.length > 0 ? opts.vm : opts.image, progress, maxPauseMs });
      try {
        const signal = control.signal;
        const jobs = opts.image.length > 0 || opts.domainXml ? [await imageJob(opts)] : await libvirtJobs(opts, targets, signal);
        const stopBar = startProgressBar(progress, jobs.length === 1 ? jobs[0]!.vm.name : `${jobs.length} VMs`, opts.progress && !opts.json);
        const outcomes = await runBackups(jobs, {
          targets, spread: opts.spread === true, parallelStreams: parallel, signal, progress, gate: control.gate, copyTargets,
          onOutcome: (o) => { stopBar(); report(o, opts.json === true, targets.length + copyTargets.length > 1); },
        }).finally(stopBar);
        setExitCode(outcomes, hookShortfalls(outcomes, opts));
      } finally {
        control.stop();
      }
    });
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
 * 0 all recorded, 3 some recorded and some failed (or a copy missing, or hooks fell short),
 * else the first failure's own code.
 */
function setExitCode(outcomes: VmOutcome[], shortfalls: string[]): void {
  const failed = outcomes.filter((o) => !o.manifest);
  const missingCopies = outcomes.flatMap((o) => o.copies.filter((c) => !c.ok).map((c) => `${o.vm.name} to ${c.repo}`));
  if (failed.length === 0 && (missingCopies.length > 0 || shortfalls.length > 0)) {
    const copies = missingCopies.length > 0 ? [`backed up, but ${missingCopies.length} copy(ies) missing (${missingCopies.join(', ')})`] : [];
    throw new VmbakError('COMPLETED_WITH_WARNINGS', { detail: [...shortfalls, ...copies].join('; ') });
  }
  if (failed.length === 0) return;
  if (failed.length < outcomes.length) {
    for (const f of failed) process.stderr.write(`vmbak: ${f.vm.name}: ${f.error?.message ?? 'failed'}\n`);
    throw new VmbakError('COMPLETED_WITH_WARNINGS', { detail: `${failed.length} of ${outcomes.length} VMs failed (${failed.map((f) => f.vm.name).join(', ')})` });
  }
  for (const f of failed.slice(1)) process.stderr.write(`vmbak: ${f.vm.name}: ${f.error?.message ?? 'failed'}\n`);
  throw failed[0]!.error ?? new VmbakError('INTERNAL', { detail: 'backup failed' });
}

/**
 * With hooks given, a recorded backup that is not cleanly application-consistent — a hook
 * failed or timed out, the guest was not frozen, a thaw failed — is worth exit 3: the operator
 * asked for more than they got, or the application may still be quiesced.
 */
function hookShortfalls(outcomes: VmOutcome[], opts: BackupOptions): string[] {
  if (opts.preFreeze === undefined && opts.postThaw === undefined) return [];
  return outcomes.flatMap((o) => {
    const m = o.manifest;
    if (!m) return [];
    const short = opts.preFreeze !== undefined && m.consistency !== 'application';
    if (!short && m.warnings.length === 0) return [];
    return [`${o.vm.name}${short ? ` is ${m.consistency}-consistent, not application-consistent` : ''}: ${m.warnings.join('; ')}`];
  });
}

async function imageJob(opts: BackupOptions): Promise<VmJob> {
  if (opts.vm.length > 1) throw new VmbakError('USAGE', { detail: 'with --image or --domain-xml, --vm names the one VM the images belong to' });
  if (opts.domainXml) {
    const dom = await imagesFromDomainXml(opts.domainXml);
    const images: ImageSpec[] = [...dom.images, ...opts.image.map((path) => ({ path }))];
    const name = opts.vm[0] ?? dom.name;
    return {
      vm: { key: dom.uuid ?? name, name, uuid: dom.uuid }, source: 'domain-xml',
      openSession: () => openImageSession(images, { vmName: name, domainXml: dom.xml, skipped: dom.skipped }),
      chainFree: true,
    };
  }
  const name = opts.vm[0] ?? opts.image[0]!.replace(/^.*\//, '').replace(/\.[^.]*$/, '');
  return {
    vm: { key: name, name, uuid: null }, source: 'image',
    openSession: () => openImageSession(opts.image.map((path) => ({ path })), { vmName: name }),
    chainFree: true,
  };
}

async function libvirtJobs(opts: BackupOptions, targets: RepoHandle[], signal: AbortSignal): Promise<VmJob[]> {
  if (opts.vm.length === 0) throw new VmbakError('USAGE', { detail: 'backup needs --vm NAME (libvirt), or --image FILE / --domain-xml FILE' });
  const uri = opts.connect;
  await sweepLeftovers(targets);
  const vms = await libvirt.findVms(opts.vm, { uri });
  const hooks = { preFreeze: opts.preFreeze, postThaw: opts.postThaw, timeoutMs: Math.round(Number(opts.hookTimeout) * 1000) };
  return vms.map((vm) => ({
    vm: { key: vm.uuid, name: vm.name, uuid: vm.uuid },
    source: 'libvirt' as const,
    openSession: (sinceCheckpoint: string | null) => libvirt.openBackupSession(vm, {
      uri, sinceCheckpoint, excludeDisks: opts.excludeDisk, quiesce: opts.quiesce as 'auto' | 'require' | 'off', hooks, scratchDir: opts.scratchDir, signal,
      onNotice: (message: string) => { process.stderr.write(`vmbak: ${message}\n`); },
    }),
  }));
}

/**
 * What crashed runs left on this host: libvirt jobs, scratch files, checkpoints no manifest
 * needs. A checkpoint counts as needed when any of the repositories records it — or when one
 * of them cannot be read, since then nobody can tell.
 */
async function sweepLeftovers(targets: RepoHandle[]): Promise<void> {
  const swept = await libvirt.sweepStaleRuns({
    isCheckpointNeeded: async (vmUuid, checkpoint) => {
      for (const t of targets) {
        try {
          const { backups } = await listBackups(await t.open());
          if (backups.some((m) => m.vm.uuid === vmUuid && m.checkpointId === checkpoint)) return true;
        } catch {
          return true;
        }
      }
      return false;
    },
  });
  for (const s of swept) {
    process.stderr.write(`vmbak: cleaned up after a dead run of ${s.record.vmName}: ${s.error ?? `${s.thawed ? 'guest filesystems thawed, ' : ''}${s.jobAborted ? 'backup job ended, ' : ''}${s.checkpointDeleted ? `checkpoint ${s.record.checkpoint} deleted, ` : ''}scratch removed`}\n`);
  }
}

/** Runs fn once and shares its result; a failure is not kept, so a later call tries again. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null;
  return () => {
    pending ??= fn().catch((err: unknown) => { pending = null; throw err; });
    return pending;
  };
}
