// Decoding of NBD_REPLY_TYPE_BLOCK_STATUS chunks into byte extents. Kept apart from the
// client so the rules (clip to the asked range, reject empty or zero-length answers that
// would make the caller loop forever) are easy to read and test.

export interface BlockStatusExtent {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  /** Context-specific: base:allocation has HOLE (bit 0) and ZERO (bit 1); dirty bitmaps DIRTY (bit 0). */
  readonly flags: number;
}

/**
 * Chunk payload: context id (u32), then descriptors of extent length (u32) and flags (u32).
 * Returns the extents of `contextId` from askOffsetBytes on, clipped to the asked range, or
 * a description of what was wrong.
 */
export function decodeBlockStatus(
  chunks: readonly Buffer[], contextId: number, askOffsetBytes: number, askBytes: number,
): BlockStatusExtent[] | string {
  const chunk = chunks.find((c) => c.readUInt32BE(0) === contextId);
  if (!chunk) return `block status reply without context ${contextId}`;
  if ((chunk.length - 4) % 8 !== 0) return `block status chunk of ${chunk.length} bytes`;
  const endBytes = askOffsetBytes + askBytes;
  const extents: BlockStatusExtent[] = [];
  let at = askOffsetBytes;
  for (let i = 4; i < chunk.length && at < endBytes; i += 8) {
    const lengthBytes = chunk.readUInt32BE(i);
    if (lengthBytes === 0) return 'block status extent of length 0';
    const clippedBytes = Math.min(lengthBytes, endBytes - at);
    extents.push({ offsetBytes: at, lengthBytes: clippedBytes, flags: chunk.readUInt32BE(i + 4) });
    at += clippedBytes;
  }
  if (extents.length === 0) return 'empty block status reply';
  return extents;
}

/** Joins neighbours with equal flags, which servers and our request splitting leave apart. */
export function mergeExtents(extents: readonly BlockStatusExtent[]): BlockStatusExtent[] {
  const merged: BlockStatusExtent[] = [];
  for (const extent of extents) {
    const last = merged[merged.length - 1];
    if (last && last.flags === extent.flags && last.offsetBytes + last.lengthBytes === extent.offsetBytes) {
      merged[merged.length - 1] = { ...last, lengthBytes: last.lengthBytes + extent.lengthBytes };
    } else {
      merged.push(extent);
    }
  }
  return merged;
}
