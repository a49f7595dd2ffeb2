// Where each filesystem's blocks lie on the backup's disks, read from the appliance's sysfs
// and device-mapper tables: a partition is one extent of its disk, a logical volume the
// linear segments of its physical volumes. An incremental index compares the chunk ids under
// these extents with the previous index's: equal ids mean equal blocks, so the filesystem's
// listing cannot have changed and is reused without walking. Anything not understood
// (striped or nested mappings) has no extents, and is always walked.

import { createHash } from 'node:crypto';
import type { DiskExtent, DiskIndex } from '../repository/index.ts';
import type { Guestfish } from './guestfish.ts';
import { applianceSh } from './appliance-shell.ts';

const SECTOR = 512;

interface BlockDevice { readonly name: string; readonly dev: string; readonly startSector: number; readonly sectors: number }

/** Extents per appliance device (`/dev/sda1`, `/dev/vg0/root`); `diskOf` maps `/dev/sda` to the backup's disk name. */
export async function findExtents(g: Guestfish, devices: readonly string[], diskOf: ReadonlyMap<string, string>): Promise<Map<string, DiskExtent[] | null>> {
  const lines = await applianceSh(g, [
    'for d in /sys/class/block/*; do n=${d##*/}; echo "blk $n $(cat $d/dev) $(cat $d/start 2>/dev/null || echo 0) $(cat $d/size)"; done',
    'dmsetup table 2>/dev/null | sed "s/^/dm /"',
  ].join('\n'), 60_000);
  return parseExtents(lines, devices, diskOf);
}

/** The extents of each device from the appliance's `blk` (sysfs) and `dm` (dmsetup table) lines. */
export function parseExtents(lines: readonly string[], devices: readonly string[], diskOf: ReadonlyMap<string, string>): Map<string, DiskExtent[] | null> {
  const blocks = lines.flatMap((l) => {
    const m = /^blk (\S+) (\d+:\d+) (\d+) (\d+)$/.exec(l);
    return m ? [{ name: m[1]!, dev: m[2]!, startSector: Number(m[3]), sectors: Number(m[4]) }] : [];
  });
  const tables = new Map<string, string[]>();
  for (const l of lines) {
    const m = /^dm (\S+): (.*)$/.exec(l);
    if (m) tables.set(m[1]!, [...(tables.get(m[1]!) ?? []), m[2]!]);
  }
  return new Map(devices.map((device) => [device, extentsOf(device, blocks, tables, diskOf)]));
}

function extentsOf(device: string, blocks: readonly BlockDevice[], tables: ReadonlyMap<string, string[]>, diskOf: ReadonlyMap<string, string>): DiskExtent[] | null {
  const lv = /^\/dev\/([^/]+)\/([^/]+)$/.exec(device);
  if (lv) {
    // device-mapper names double the dashes inside the volume group and volume names.
    const dmName = `${lv[1]!.replaceAll('-', '--')}-${lv[2]!.replaceAll('-', '--')}`;
    const segments = tables.get(dmName);
    if (!segments) return null;
    const out: DiskExtent[] = [];
    for (const seg of segments) {
      const m = /^\d+ (\d+) linear (\d+:\d+) (\d+)$/.exec(seg);
      const under = m ? blocks.find((b) => b.dev === m[2]) : undefined;
      const base = under ? partitionExtent(`/dev/${under.name}`, blocks, diskOf) : null;
      if (!m || !base) return null;
      out.push({ disk: base.disk, startByte: base.startByte + Number(m[3]) * SECTOR, lengthBytes: Number(m[1]) * SECTOR });
    }
    return out;
  }
  const one = partitionExtent(device, blocks, diskOf);
  return one ? [one] : null;
}

/** A whole disk or one partition of it. */
function partitionExtent(device: string, blocks: readonly BlockDevice[], diskOf: ReadonlyMap<string, string>): DiskExtent | null {
  const self = blocks.find((b) => `/dev/${b.name}` === device);
  if (!self) return null;
  if (diskOf.has(device)) return { disk: diskOf.get(device)!, startByte: 0, lengthBytes: self.sectors * SECTOR };
  const part = /^(\/dev\/[a-z]+)(\d+)$/.exec(device);
  if (!part || !diskOf.has(part[1]!)) return null;
  return { disk: diskOf.get(part[1]!)!, startByte: self.startSector * SECTOR, lengthBytes: self.sectors * SECTOR };
}

/** SHA-256 over the extents and the ids of every chunk they touch; null when an extent is not covered by the disk indexes. */
export function extentDigest(extents: readonly DiskExtent[], indexes: ReadonlyMap<string, DiskIndex>): string | null {
  const h = createHash('sha256');
  for (const e of extents) {
    const index = indexes.get(e.disk);
    if (!index) return null;
    const end = Math.min(index.sizeBytes, e.startByte + e.lengthBytes);
    const first = Math.floor(e.startByte / index.chunkSizeBytes);
    const last = Math.ceil(end / index.chunkSizeBytes);
    h.update(`${e.disk}:${e.startByte}:${end}:${index.chunkSizeBytes};`);
    h.update(index.ids.subarray(first * 32, last * 32));
  }
  return h.digest('hex');
}
