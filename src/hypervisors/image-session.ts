// A backup session over image files: `--image` files, or the disks named by a domain XML of
// a powered-off VM or template. The files are read at rest through qemu-nbd; there is no
// checkpoint, so incrementals compare chunk hashes with the previous backup (hash-delta).

import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { VmbakError, describeError, type BackupSession, type SessionDisk } from '../core/index.ts';
import { openProbedImageSource } from './qemu-nbd-source.ts';
import { probeImage } from './image-probe.ts';
import { parseDomainXml } from './libvirt/index.ts';

export interface ImageSpec {
  readonly path: string;
  /** Disk name in the backup; the file name without extension by default. */
  readonly name?: string;
  readonly format?: string;
}

export interface ImageSessionInfo {
  readonly session: BackupSession;
  readonly vmName: string | null;
  readonly vmUuid: string | null;
}

/** Reads a domain XML file into the image specs of its disks, plus what it skipped. */
export async function imagesFromDomainXml(xmlPath: string): Promise<{ xml: string; name: string; uuid: string | null; images: ImageSpec[]; skipped: { target: string; reason: string }[] }> {
  let xml: string;
  try {
    xml = await readFile(xmlPath, 'utf8');
  } catch (err) {
    throw new VmbakError('DOMAIN_XML_INVALID', { path: xmlPath, detail: describeError(err) });
  }
  let info;
  try {
    info = parseDomainXml(xml);
  } catch (err) {
    throw new VmbakError('DOMAIN_XML_INVALID', { path: xmlPath, detail: describeError(err) });
  }
  if (!info.name) throw new VmbakError('DOMAIN_XML_INVALID', { path: xmlPath, detail: 'the domain has no <name>' });
  const images: ImageSpec[] = [];
  const skipped: { target: string; reason: string }[] = [];
  for (const d of info.disks) {
    if (d.skipReason) skipped.push({ target: d.target, reason: d.skipReason });
    else if (d.unsupportedReason || !d.path) throw new VmbakError('DOMAIN_XML_INVALID', { path: xmlPath, detail: `disk ${d.target}: ${d.unsupportedReason ?? 'no source'}` });
    else images.push({ path: d.path, name: d.target, format: d.format });
  }
  if (images.length === 0) throw new VmbakError('DOMAIN_XML_INVALID', { path: xmlPath, detail: 'it names no disk to back up' });
  return { xml, name: info.name, uuid: info.uuid || null, images, skipped };
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
  // The disks are probed and their qemu-nbd started all at once; the first failure (in disk
  // order) is reported once every disk has settled, and whatever did open is closed.
  const opened = await Promise.allSettled(planned.map(async ({ abs, name, format }) => {
    const info = await probeImage(abs, format);
    const source = await openProbedImageSource(abs, info.format, name);
    return { source, incrementalFrom: null, fallbackReason: 'image file: no changed-block tracking, unchanged chunks are found by hash', format: info.format, sourcePath: abs } satisfies SessionDisk;
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
