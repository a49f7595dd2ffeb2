// Turns any connected NbdClient into the engine's DiskSource: used for qemu-nbd serving an
// image file and for libvirt's pull-mode backup exports alike, so both read, map
// allocation and map dirty blocks through exactly the same code.

import { VmbakError } from '../core/index.ts';
import type { AllocationExtent, ByteRange, DiskSource } from '../core/index.ts';
import { BASE_ALLOCATION, NBD_STATE_ZERO, NBD_STATE_DIRTY } from '../nbd/index.ts';
import type { NbdClient } from '../nbd/index.ts';

export interface NbdSourceOptions {
  /** A negotiated qemu:dirty-bitmap:* context; when given the source offers mapDirty. */
  readonly dirtyContext?: string | null;
  /** Runs after the client is closed, e.g. to stop the qemu-nbd serving it. */
  readonly onClose?: () => Promise<void> | void;
}

export function openNbdSource(client: NbdClient, name: string, opts: NbdSourceOptions = {}): DiskSource {
  const dirtyContext = opts.dirtyContext ?? null;
  if (dirtyContext && !client.metaContexts.has(dirtyContext)) {
    throw new VmbakError('NBD_CONNECT', { server: client.serverLabel, detail: `the server does not offer ${dirtyContext}` });
  }
  const checkRange = (offsetBytes: number, lengthBytes: number) => {
    if (offsetBytes < 0 || lengthBytes < 0 || offsetBytes + lengthBytes > client.sizeBytes) {
      throw new VmbakError('INTERNAL', { detail: `range ${offsetBytes}+${lengthBytes} is outside disk ${name} (${client.sizeBytes} bytes)` });
    }
  };
  let closing: Promise<void> | null = null;
  const source: DiskSource = {
    name,
    sizeBytes: client.sizeBytes,
    async mapAllocation(offsetBytes, lengthBytes) {
      checkRange(offsetBytes, lengthBytes);
      if (lengthBytes === 0) return [];
      // Without base:allocation nothing is known to be zero, so everything must be read.
      if (!client.metaContexts.has(BASE_ALLOCATION)) return [{ offsetBytes, lengthBytes, zero: false }];
      const extents = await client.blockStatus(BASE_ALLOCATION, offsetBytes, lengthBytes);
      // HOLE alone is not enough: an unallocated qcow2 cluster may read from a backing file.
      return joinAllocation(extents.map((e) => ({ offsetBytes: e.offsetBytes, lengthBytes: e.lengthBytes, zero: (e.flags & NBD_STATE_ZERO) !== 0 })));
    },
    read(offsetBytes, lengthBytes, into) {
      return client.read(offsetBytes, lengthBytes, into);
    },
    close() {
      closing ??= (async () => {
        try { await client.close(); } finally { await opts.onClose?.(); }
      })();
      return closing;
    },
  };
  if (dirtyContext) {
    source.mapDirty = async (offsetBytes, lengthBytes) => {
      checkRange(offsetBytes, lengthBytes);
      if (lengthBytes === 0) return [];
      const extents = await client.blockStatus(dirtyContext, offsetBytes, lengthBytes);
      return joinRanges(extents.filter((e) => (e.flags & NBD_STATE_DIRTY) !== 0));
    };
  }
  return source;
}

function joinAllocation(extents: AllocationExtent[]): AllocationExtent[] {
  const joined: AllocationExtent[] = [];
  for (const extent of extents) {
    const last = joined[joined.length - 1];
    if (last && last.zero === extent.zero) joined[joined.length - 1] = { ...last, lengthBytes: last.lengthBytes + extent.lengthBytes };
    else joined.push(extent);
  }
  return joined;
}

function joinRanges(ranges: readonly ByteRange[]): ByteRange[] {
  const joined: ByteRange[] = [];
  for (const range of ranges) {
    const last = joined[joined.length - 1];
    if (last && last.offsetBytes + last.lengthBytes === range.offsetBytes) {
      joined[joined.length - 1] = { offsetBytes: last.offsetBytes, lengthBytes: last.lengthBytes + range.lengthBytes };
    } else {
      joined.push({ offsetBytes: range.offsetBytes, lengthBytes: range.lengthBytes });
    }
  }
  return joined;
}
