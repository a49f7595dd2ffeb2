// Where each filesystem's blocks lie on the backup's disks, read from the appliance's sysfs
// and device-mapper tables: a partition is one extent of its disk, a logical volume the
// linear segments of its physical volumes. An incremental index compares the chunk ids under
// these extents with the previous index's: equal ids mean equal blocks, so the filesystem's
// listing cannot have changed and is reused without walking. Anything not understood
// (striped or nested mappings) has no extents, and is always walked.
//
// The appliance's kernel names disks in the order it probes them, which is not always the
// order they were added: its own root disk is sometimes sda and the guest's disk sdb. The
// names libguestfs gives us (/dev/sdX) count the disks of /dev/disk/by-path in numeric order,
// the root disk left out; sysfs and device-mapper speak the kernel's names, so each name is
// translated before it is looked up.

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
    'for l in $(ls -1v /dev/disk/by-path 2>/dev/null); do case $l in *-part*) ;; *) echo "path $(readlink -f /dev/disk/by-path/$l)";; esac; done',
    // mountinfo: id, parent, major:minor, root, mount point, ...; the last "/" is the one in use.
    'while read -r id parent dev root at rest; do [ "$at" = / ] && r=$dev; done < /proc/self/mountinfo; echo "root $r"',
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
  const toKernel = kernelNames(lines, blocks);
  const kernelDiskOf = new Map([...diskOf].map(([device, disk]) => [toKernel(device), disk]));
  return new Map(devices.map((device) => [device, extentsOf(toKernel(device), blocks, tables, kernelDiskOf)]));
}

/** Translates libguestfs's `/dev/sdX[N]` to the appliance kernel's name for the same device. */
function kernelNames(lines: readonly string[], blocks: readonly BlockDevice[]): (device: string) => string {
  const root = lines.map((l) => /^root (\d+:\d+)$/.exec(l)?.[1]).find((r) => r !== undefined);
  const disks = lines.flatMap((l) => {
    const name = /^path \/dev\/(\S+)$/.exec(l)?.[1];
    return name && blocks.find((b) => b.name === name)?.dev !== root ? [name] : [];
  });
  // No by-path links (an older appliance): libguestfs's names are the kernel's.
  if (disks.length === 0) return (device) => device;
  return (device) => {
    const m = /^\/dev\/sd([a-z]+)(\d*)$/.exec(device);
    const disk = m ? disks[driveIndex(m[1]!)] : undefined;
    return disk ? `/dev/${disk}${m![2]}` : device;
  };
}

/** `a` → 0, `z` → 25, `aa` → 26: the drive letters' numbering. */
function driveIndex(letters: string): number {
  let n = 0;
  for (const c of letters) n = n * 26 + (c.charCodeAt(0) - 96);
  return n - 1;
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
