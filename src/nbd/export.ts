// What the NBD server serves: a read-only block device described by its size, its reads and
// its allocation. The server knows nothing of repositories; the engine implements this for
// a disk of a backup, tests for a buffer in memory.

import type { AllocationExtent } from '../core/index.ts';

export interface NbdExport {
  /** The name clients ask for in NBD_OPT_GO (a disk name such as vda). */
  readonly name: string;
  /** Shown by NBD_OPT_LIST and NBD_INFO_DESCRIPTION. */
  readonly description?: string;
  readonly sizeBytes: number;
  /** The granularity reads are cheapest at (a power of two, e.g. the backup's chunk size). */
  readonly preferredBlockBytes?: number;
  /**
   * Exactly lengthBytes at offsetBytes (the server checks the range first); zero areas read
   * as zeros. A rejection fails only this request, with EIO.
   */
  read(offsetBytes: number, lengthBytes: number): Promise<Buffer>;
  /** Allocation of [offsetBytes, offsetBytes+lengthBytes), in order and without gaps. */
  extents(offsetBytes: number, lengthBytes: number): Promise<AllocationExtent[]>;
  /** NBD_CMD_CACHE: a hint to have the range ready; absent means the hint is ignored. */
  prefetch?(offsetBytes: number, lengthBytes: number): Promise<void>;
}

/** Why one request failed, for the server's owner to log. */
export interface NbdRequestFailure {
  readonly exportName: string;
  readonly op: 'read' | 'block status' | 'cache';
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly error: unknown;
}

/** The export of a buffer: for tests and examples. Zero-filled runs of 4 KiB are reported as holes. */
export function memoryExport(name: string, data: Buffer, blockBytes = 4096): NbdExport {
  const zeros = Buffer.alloc(blockBytes);
  return {
    name,
    sizeBytes: data.length,
    preferredBlockBytes: blockBytes,
    read: async (offsetBytes, lengthBytes) => Buffer.from(data.subarray(offsetBytes, offsetBytes + lengthBytes)),
    extents: async (offsetBytes, lengthBytes) => {
      const out: AllocationExtent[] = [];
      const endBytes = offsetBytes + lengthBytes;
      for (let at = offsetBytes; at < endBytes;) {
        const blockEnd = Math.min(endBytes, (Math.floor(at / blockBytes) + 1) * blockBytes);
        const zero = data.subarray(at, blockEnd).equals(zeros.subarray(0, blockEnd - at));
        const last = out[out.length - 1];
        if (last && last.zero === zero) out[out.length - 1] = { ...last, lengthBytes: last.lengthBytes + blockEnd - at };
        else out.push({ offsetBytes: at, lengthBytes: blockEnd - at, zero });
        at = blockEnd;
      }
      return out;
    },
  };
}
