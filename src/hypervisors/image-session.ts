// A backup session over image files: `--image` files, or the disks named by a domain XML of
// a powered-off VM or template. The files are read at rest through qemu-nbd; there is no
// checkpoint, so incrementals compare chunk hashes with the previous backup (hash-delta).
// imageFileSource is the same as a VmBackupSource, the part of the hypervisor interface that
// image files fit (they have no inventory, nothing to sweep and nothing to define).

import path from 'node:path';
import { VmbakError, type BackupSession, type DiskSource, type SessionDisk, type SourceFileFacts, type VmBackupSource } from '../core/index.ts';
import { probeImage } from './image-probe.ts';
import { statSourceFile } from './image-facts.ts';
import { lazyImageSource } from './lazy-image-source.ts';

export interface ImageSpec {
  readonly path: string;
  /** Disk name in the backup; the file name without extension by default. */
  readonly name?: string;
  readonly format?: string;
}

export async function openImageSession(images: readonly ImageSpec[], opts: { vmName: string; domainXml?: string | null; skipped?: { target: string; reason: string }[]; consistency?: BackupSession['consistency'] }): Promise<BackupSession> {
  const names = new Set<string>();
  const disks: SessionDisk[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled(disks.map((d) => d.source.close()));
  };
  const planned = images.map((image) => {
    const abs = path.resolve(image.path);
    const name = image.name ?? path.basename(abs, path.extname(abs));
    if (names.has(name)) throw new VmbakError('DISK_NAME_CLASH', { vm: opts.vmName, disk: name });
    names.add(name);
    return { abs, name, format: image.format };
  });
  // The disks are probed all at once; the first failure (in disk order) is reported once
  // every disk has settled. Each file's facts are taken before anything reads it; its
  // qemu-nbd starts only when the engine reads the disk (not at all when it is unchanged).
  const opened = await Promise.allSettled(planned.map(async ({ abs, name, format }) => {
    const info = await probeImage(abs, format);
    const sourceFile = await statSourceFile(abs, info.backingPaths);
    const source = lazyImageSource(abs, info.format, name, info.virtualSizeBytes);
    return { source, incrementalFrom: null, fallbackReason: 'image file: no changed-block tracking, unchanged chunks are found by hash', format: info.format, sourcePath: abs, sourceFile } satisfies SessionDisk;
  }));
  for (const o of opened) if (o.status === 'fulfilled') disks.push(o.value);
  const failed = opened.find((o) => o.status === 'rejected');
  if (failed) {
    await closeAll();
    throw failed.reason;
  }
  return {
    consistency: opts.consistency ?? 'crash',
    checkpointId: null,
    domainXml: opts.domainXml ?? '',
    stateFiles: [],
    disks,
    skippedDisks: opts.skipped ?? [],
    warnings: [],
    finish: closeAll,
    abort: closeAll,
  };
}

/** A probed image file as a lazily started DiskSource with its facts (powered-off libvirt VMs). */
export async function openImageFileLazily(imagePath: string, name: string): Promise<DiskSource & { readonly sourceFile: SourceFileFacts | null }> {
  const abs = path.resolve(imagePath);
  const info = await probeImage(abs);
  const sourceFile = await statSourceFile(abs, info.backingPaths);
  return Object.assign(lazyImageSource(abs, info.format, name, info.virtualSizeBytes), { sourceFile });
}

export interface ImageFileSourceOptions {
  readonly vmName: string;
  /** The domain XML the images came from, stored with each backup (a powered-off VM, a template). */
  readonly domainXml?: string | null;
  /** Disks the domain XML names that are not read, and why. */
  readonly skipped?: { target: string; reason: string }[];
}

/** One VM's image files as a backup source: every session reads them whole, at rest. */
export function imageFileSource(images: readonly ImageSpec[], opts: ImageFileSourceOptions): VmBackupSource {
  return {
    sourceKind: opts.domainXml ? 'domain-xml' : 'image',
    changeTracking: false,
    openBackupSession: () => openImageSession(images, { vmName: opts.vmName, domainXml: opts.domainXml ?? null, skipped: opts.skipped }),
  };
}
