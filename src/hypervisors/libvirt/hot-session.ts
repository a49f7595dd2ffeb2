// A hot backup of a running (or paused) VM: one libvirt pull-mode backup job for all its
// disks, started at one instant (quiesced when the guest agent answers), with a new vmbak
// checkpoint created by the same call; each disk is then read over NBD. The run record is
// written before backup-begin, so a crash at any later moment is swept on the next start; it
// also says when the guest may be frozen, so a crash inside the freeze window gets it thawed.

import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BackupSession, SessionDisk, VmStateFile } from '../../core/index.ts';
import type { DiskSource } from '../../core/index.ts';
import type { VmbakError } from '../../core/index.ts';
import { removeTree } from '../../host/index.ts';
import { backupXml, socketPath } from './backup-xml.ts';
import { checkpointXml, deleteCheckpoint, getCheckpoint, listCheckpoints, newCheckpointName, CHECKPOINT_PREFIX } from './checkpoints.ts';
import type { CheckpointDiskSet } from './checkpoints.ts';
import type { LibvirtVm } from './inventory.ts';
import { quiesceAround } from './quiesce.ts';
import { removeOrphanBitmaps } from './orphan-bitmaps.ts';
import { defaultStateDir, newRunRecord, removeRunRecord, writeRunRecord } from './run-records.ts';
import { findQemuPid } from './qemu-process.ts';
import { checkScratchSeenByQemu, checkScratchSpace, defaultScratchRoot, DEFAULT_SCRATCH_RESERVE_BYTES, watchScratch } from './scratch.ts';
import type { ScratchWatch } from './scratch.ts';
import type { ExportOpener, SessionOptions, SessionPlan } from './session-options.ts';
import { connectUri, virsh, virshRaw } from './virsh.ts';

export interface HotSessionInput {
  readonly vm: LibvirtVm;
  readonly plan: SessionPlan;
  readonly domainXml: string;
  /**
   * Reads the state a VM boots with besides its disks (UEFI variables, TPM); called right after
   * backup-begin, while the guest is still frozen, so the files match the disks' instant.
   */
  readonly readStateFiles: () => Promise<VmStateFile[]>;
  readonly openExport: ExportOpener;
}

/** The session plus the signal that fires when the backup job was aborted underneath it. */
export interface LibvirtBackupSession extends BackupSession {
  readonly signal: AbortSignal;
  readonly runDir: string | null;
}

export async function openHotSession(input: HotSessionInput, opts: SessionOptions): Promise<LibvirtBackupSession> {
  const { vm, plan } = input;
  const uri = connectUri(opts.uri);
  const scratchRoot = opts.scratchDir ?? defaultScratchRoot();
  const stateDir = opts.stateDir ?? defaultStateDir();
  const reserveBytes = opts.scratchReserveBytes ?? DEFAULT_SCRATCH_RESERVE_BYTES;
  mkdirSync(scratchRoot, { recursive: true });
  await checkScratchSeenByQemu(scratchRoot, vm.name, await findQemuPid(vm.name, uri));
  await checkScratchSpace(scratchRoot, vm.name, plan.disks.reduce((n, d) => n + d.sizeBytes, 0), reserveBytes);

  const runId = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const runDir = join(scratchRoot, `run-${runId}`);
  mkdirSync(runDir, { recursive: true, mode: 0o750 });
  chownToQemu(runDir);
  const checkpoint = newCheckpointName();
  const record = newRunRecord({ runId, uri, vmUuid: vm.uuid, vmName: vm.name, checkpoint, scratchDir: runDir });
  writeRunRecord(stateDir, record);

  const cleanupRun = async () => {
    await removeTree(runDir);
    removeRunRecord(stateDir, runId);
  };
  const diskSet: CheckpointDiskSet = {};
  for (const d of plan.disks) diskSet[d.target] = { path: d.path, sizeBytes: d.sizeBytes };
  const notBackedUp = plan.skipped.map((s) => s.target).filter((t) => vm.domain.disks.some((d) => d.target === t && d.device === 'disk'));
  const backupFile = join(runDir, 'backup.xml');
  const checkpointFile = join(runDir, 'checkpoint.xml');
  writeFileSync(backupFile, backupXml(runDir, opts.sinceCheckpoint, plan.disks, notBackedUp));
  writeFileSync(checkpointFile, checkpointXml(checkpoint,
    plan.disks.filter((d) => d.trackChanges).map((d) => d.target),
    [...plan.disks.filter((d) => !d.trackChanges).map((d) => d.target), ...notBackedUp], diskSet));

  let quiesced;
  let stateFiles: VmStateFile[] = [];
  const signal = opts.signal;
  try {
    // The record says "may be frozen" across the freeze window, so a run killed inside it is thawed by the next start.
    const onFreezeState = (mayBeFrozen: boolean) => { writeRunRecord(stateDir, { ...record, mayBeFrozen }); };
    quiesced = await quiesceAround(vm, { mode: opts.quiesce ?? 'auto', hooks: opts.hooks, uri, onFreezeState, signal, onNotice: opts.onNotice },
      async () => {
        await virsh(['backup-begin', vm.uuid, backupFile, checkpointFile], { uri, vm: vm.name });
        stateFiles = await input.readStateFiles();
      });
    // Aborted while the post-thaw hook ran: end the job now rather than hand out a dead session.
    if (signal?.aborted) throw signal.reason;
  } catch (err) {
    // backup-begin creates the job and the checkpoint together or not at all; sweep both anyway.
    await endJob(vm, uri, runDir);
    if ((await listCheckpoints(vm.uuid, { uri })).includes(checkpoint)) await deleteCheckpoint(vm.uuid, checkpoint, { uri });
    await cleanupRun();
    throw err;
  }

  const controller = new AbortController();
  const sources: DiskSource[] = [];
  let watch: ScratchWatch | null = null;
  let ended = false;
  const teardown = async (deleteNew: boolean) => {
    if (ended) return;
    ended = true;
    watch?.stop();
    for (const s of sources) await s.close().catch(() => undefined);
    await endJob(vm, uri, runDir);
    if (deleteNew) await deleteCheckpoint(vm.uuid, checkpoint, { uri });
    else {
      await deleteOlderCheckpoints(vm, checkpoint, uri);
      // The backup is made: a failure here is a notice, and the next backup tries again.
      const orphans = await removeOrphanBitmaps(vm, uri).catch((err: Error) => { opts.onNotice?.(`dirty bitmaps no checkpoint owns not removed: ${err.message}`); return []; });
      if (orphans.length > 0) opts.onNotice?.(`removed dirty bitmaps no checkpoint of this host owns (the VM moved here): ${orphans.join(', ')}`);
    }
    await cleanupRun();
  };

  const disks: SessionDisk[] = [];
  try {
    for (const d of plan.disks) {
      const dirty = d.incremental ? `qemu:dirty-bitmap:backup-${d.target}` : null;
      const source = await input.openExport(socketPath(runDir), d.target, dirty);
      sources.push(source);
      disks.push({ source, incrementalFrom: d.incremental ? opts.sinceCheckpoint : null, fallbackReason: d.fallbackReason });
    }
  } catch (err) {
    await teardown(true);
    throw err;
  }

  watch = watchScratch(runDir, vm.name, reserveBytes, opts.scratchPollMs ?? 1000, (err: VmbakError) => {
    // Abort the backup job, never the guest: QEMU drops the copy-before-write filter with it.
    void endJob(vm, uri, runDir).finally(() => {
      controller.abort(err);
      opts.onScratchLow?.(err);
    });
  });

  return {
    consistency: quiesced.consistency,
    checkpointId: checkpoint,
    domainXml: input.domainXml,
    stateFiles,
    disks,
    skippedDisks: plan.skipped,
    warnings: quiesced.warnings,
    signal: controller.signal,
    runDir,
    finish: () => teardown(controller.signal.aborted),
    abort: () => teardown(true),
  };
}

/**
 * Ends the VM's backup job if it is the one serving this run's socket (pull jobs end only by
 * an abort). Another tool's job on the same VM is left alone.
 */
export async function endJob(vm: { uuid: string; name: string }, uri: string, runDir: string): Promise<boolean> {
  let xml: string;
  try {
    xml = await virshRaw(['backup-dumpxml', vm.uuid], { uri });
  } catch {
    return false; // no backup job
  }
  const socket = socketPath(runDir);
  if (!xml.includes(socket)) return false;
  const stillOurs = async () => (await virshRaw(['backup-dumpxml', vm.uuid], { uri }).catch(() => '')).includes(socket);
  try {
    await virshRaw(['domjobabort', vm.uuid], { uri });
  } catch {
    // The job may have ended between the two calls; check again and only then give up.
    if (await stillOurs()) await virsh(['domjobabort', vm.uuid], { uri, vm: vm.name });
  }
  // libvirt tears the job down (and unlinks its scratch files) after domjobabort returns.
  for (let i = 0; i < JOB_END_POLLS && await stillOurs(); i++) await sleep(JOB_END_POLL_MS);
  return true;
}

const JOB_END_POLLS = 100;
const JOB_END_POLL_MS = 50;

/** After a recorded backup only its checkpoint is needed as the next base; drop older vmbak ones. */
async function deleteOlderCheckpoints(vm: { uuid: string }, keep: string, uri: string): Promise<void> {
  for (const name of await listCheckpoints(vm.uuid, { uri })) {
    if (name === keep || !name.startsWith(CHECKPOINT_PREFIX)) continue;
    const info = await getCheckpoint(vm.uuid, name, { uri });
    if (info?.createdByVmbak) await deleteCheckpoint(vm.uuid, name, { uri });
  }
}

let qemuIds: { uid: number; gid: number } | null | undefined;

/** QEMU runs as libvirt-qemu:kvm on Debian (qemu:qemu elsewhere) and must create the socket. */
export function chownToQemu(dir: string): void {
  const ids = qemuAccount();
  if (ids) chownSync(dir, ids.uid, ids.gid);
}

/** QEMU's uid and gid, or null when neither account exists (QEMU then runs as root). */
export function qemuAccount(): { uid: number; gid: number } | null {
  if (qemuIds === undefined) {
    qemuIds = null;
    for (const user of ['libvirt-qemu', 'qemu']) {
      try {
        const uid = Number(execFileSync('id', ['-u', user], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim());
        const gid = Number(execFileSync('id', ['-g', user], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim());
        qemuIds = { uid, gid };
        break;
      } catch { /* try the next name */ }
    }
  }
  return qemuIds;
}
