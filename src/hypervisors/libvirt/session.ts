// openBackupSession: the entry the engine calls for one VM. It re-reads the VM, plans each
// disk (incremental or full, and why), captures the domain XML and boot state files, and
// opens either a hot session (running/paused: libvirt pull-mode backup) or a cold one
// (shut off: the image files themselves, read-only).

import { VmbakError } from '../../core/index.ts';
import type { DiskSource, SourceFileFacts } from '../../core/index.ts';
import { getCheckpoint } from './checkpoints.ts';
import { getVm } from './inventory.ts';
import type { LibvirtVm } from './inventory.ts';
import { openHotSession } from './hot-session.ts';
import type { LibvirtBackupSession } from './hot-session.ts';
import { openBackupExport, openImageFile, openImageWithBitmap } from './nbd-export.ts';
import { planColdReads } from './cold-bitmaps.ts';
import { planDisks } from './session-options.ts';
import type { SessionOptions } from './session-options.ts';
import { readStateFiles } from './state-files.ts';
import { virsh, virshRaw } from './virsh.ts';

export async function openBackupSession(vmRef: string | Pick<LibvirtVm, 'uuid'>, opts: SessionOptions): Promise<LibvirtBackupSession> {
  const vm = await getVm(typeof vmRef === 'string' ? vmRef : vmRef.uuid, { uri: opts.uri });
  const hot = vm.state === 'running' || vm.state === 'paused';
  if (!hot && vm.state !== 'shutoff') {
    throw new VmbakError('LIBVIRT_FAILED', { op: 'backup', vm: vm.name, detail: 'the VM is neither running, paused nor shut off (crashed or suspended?)' });
  }
  const base = opts.sinceCheckpoint ? await getCheckpoint(vm.uuid, opts.sinceCheckpoint, { uri: opts.uri }) : null;
  const plan = planDisks(vm, opts, base);
  const domainXml = await dumpDomainXml(vm, opts.uri);
  if (hot) {
    return openHotSession({ vm, plan, domainXml, readStateFiles: () => readStateFiles(vm.domain), openExport: opts.openExport ?? openBackupExport }, opts);
  }
  const stateFiles = await readStateFiles(vm.domain);
  const cold = await planColdReads(plan.disks, opts.sinceCheckpoint);
  const open = opts.openImage ?? openImageFile;
  const sources: (DiskSource & { readonly sourceFile?: SourceFileFacts | null })[] = [];
  try {
    for (const [i, d] of plan.disks.entries()) {
      const bitmap = cold[i]!.bitmap;
      sources.push(bitmap ? await openImageWithBitmap(d.path, d.target, bitmap) : await open(d.path, d.target));
    }
  } catch (err) {
    for (const s of sources) await s.close().catch(() => undefined);
    throw err;
  }
  const closeAll = async () => { for (const s of sources) await s.close().catch(() => undefined); };
  // The chain goes on from the same checkpoint when every disk read its bitmap: the bitmaps
  // keep tracking once the VM runs again, so the next backup reads what changed since.
  const chained = cold.length > 0 && cold.every((c) => c.bitmap !== null);
  return {
    // A shut-off VM cannot prove it was shut down cleanly (virsh destroy looks the same).
    consistency: 'crash',
    checkpointId: chained ? opts.sinceCheckpoint : null,
    domainXml,
    stateFiles,
    disks: plan.disks.map((d, i) => ({
      source: sources[i]!, incrementalFrom: cold[i]!.bitmap, fallbackReason: cold[i]!.fallbackReason, sourceFile: sources[i]!.sourceFile ?? null,
    })),
    skippedDisks: plan.skipped,
    warnings: [],
    signal: new AbortController().signal,
    runDir: null,
    finish: closeAll,
    abort: closeAll,
  };
}

/**
 * The persistent definition (what a restore defines again), with secrets such as VNC
 * passwords kept; a transient VM only has its live XML.
 */
async function dumpDomainXml(vm: LibvirtVm, uri?: string): Promise<string> {
  try {
    return await virshRaw(['dumpxml', vm.uuid, '--inactive', '--security-info'], { uri });
  } catch {
    return virsh(['dumpxml', vm.uuid, '--security-info'], { uri, vm: vm.name });
  }
}
