// A readable VM disk, wherever it comes from: an image file served by qemu-nbd, a libvirt
// pull-mode backup export, later a vSphere snapshot. The engine reads disks only through
// this interface.

import type { ByteRange } from './target.ts';

export interface AllocationExtent extends ByteRange {
  /** True when the range reads as zeros (a hole or a known-zero area): it need not be read. */
  readonly zero: boolean;
}

export interface DiskSource {
  /** The disk's name in backups: the libvirt target (vda) or an image's file name stem. */
  readonly name: string;
  readonly sizeBytes: number;
  /** Allocation of [offsetBytes, offsetBytes+lengthBytes), covering the range without gaps. */
  mapAllocation(offsetBytes: number, lengthBytes: number): Promise<AllocationExtent[]>;
  /**
   * Ranges changed since the checkpoint this source was opened against (changed-block
   * tracking); absent when the source has no such checkpoint.
   */
  mapDirty?(offsetBytes: number, lengthBytes: number): Promise<ByteRange[]>;
  /** Reads a range; with `into` (at least lengthBytes long) the data lands there. */
  read(offsetBytes: number, lengthBytes: number, into?: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

/**
 * What the file system says about an image file at the moment a backup session looked at it,
 * before any read. A later backup whose image shows the same facts may reuse this backup's
 * disk index without reading (the way restic and borg skip unchanged files). ctime is the
 * guard: a tool can put mtime back after writing, but any write or utime call sets ctime to
 * the present. Nanosecond times, inode and device are decimal strings (they exceed 2^53).
 */
export interface SourceFileFacts {
  readonly path: string;
  readonly sizeBytes: number;
  readonly mtimeNs: string;
  readonly ctimeNs: string;
  readonly inode: string;
  readonly device: string;
  /** The same facts of every backing file under a qcow2 overlay, top first (absent: none). */
  readonly backing?: Omit<SourceFileFacts, 'backing'>[];
}
