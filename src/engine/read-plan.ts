// Which chunks of a disk must be read: not those that lie entirely in holes, and with a
// changed-block map not those the map says are unchanged (their ids come from the previous
// index). Reads are grouped into runs of consecutive chunks so the source sees few, large
// requests.

import type { ByteRange, DiskSource } from '../core/index.ts';

const MAP_STEP_BYTES = 1 << 30;

export interface ReadPlan {
  /** Per chunk: 0 = zero (hole), 1 = read, 2 = unchanged since the previous backup. */
  readonly state: Uint8Array;
  /** Bytes the changed-block map marked dirty, or null without one. */
  readonly bytesChanged: number | null;
}

export const CHUNK_ZERO = 0;
export const CHUNK_READ = 1;
export const CHUNK_UNCHANGED = 2;

export async function planDiskRead(source: DiskSource, chunkSizeBytes: number, useDirtyMap: boolean): Promise<ReadPlan> {
  const count = Math.ceil(source.sizeBytes / chunkSizeBytes);
  const state = new Uint8Array(count); // all CHUNK_ZERO
  for (let at = 0; at < source.sizeBytes; at += MAP_STEP_BYTES) {
    const len = Math.min(MAP_STEP_BYTES, source.sizeBytes - at);
    for (const e of await source.mapAllocation(at, len)) {
      if (!e.zero) markRange(state, e, chunkSizeBytes, CHUNK_READ);
    }
  }
  if (!useDirtyMap || !source.mapDirty) return { state, bytesChanged: null };
  const dirty = new Uint8Array(count);
  let bytesChanged = 0;
  for (let at = 0; at < source.sizeBytes; at += MAP_STEP_BYTES) {
    const len = Math.min(MAP_STEP_BYTES, source.sizeBytes - at);
    for (const r of await source.mapDirty(at, len)) {
      bytesChanged += r.lengthBytes;
      markRange(dirty, r, chunkSizeBytes, 1);
    }
  }
  // A clean chunk keeps its previous id, even if it now lies in a hole: the bitmap is the truth
  // about change. A dirty chunk is read unless it is entirely a hole now (then it is zero).
  for (let i = 0; i < count; i++) if (!dirty[i]) state[i] = CHUNK_UNCHANGED;
  return { state, bytesChanged };
}

function markRange(state: Uint8Array, range: ByteRange, chunkSizeBytes: number, value: number): void {
  if (range.lengthBytes <= 0) return;
  const first = Math.floor(range.offsetBytes / chunkSizeBytes);
  const last = Math.min(state.length - 1, Math.floor((range.offsetBytes + range.lengthBytes - 1) / chunkSizeBytes));
  state.fill(value, first, last + 1);
}

/** Runs of consecutive chunks to read, each at most maxChunks long. */
export function* readRuns(state: Uint8Array, maxChunks: number): Generator<{ first: number; count: number }> {
  let i = 0;
  while (i < state.length) {
    if (state[i] !== CHUNK_READ) { i++; continue; }
    const first = i;
    while (i < state.length && state[i] === CHUNK_READ && i - first < maxChunks) i++;
    yield { first, count: i - first };
  }
}
