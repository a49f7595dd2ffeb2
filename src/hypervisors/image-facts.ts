// The facts of an image file (size, mtime, ctime, inode, device — and those of its backing
// files) that let the engine skip reading an image unchanged since the previous backup.
// They are taken before qemu-nbd opens the file, so any write after them shows up as a newer
// ctime in the next backup's facts. A file whose ctime is within the last second is not
// vouched for: a write in the same clock tick as our stat would leave the facts unchanged
// (git's "racy clean" problem), so such a file is read again next time.

import { stat } from 'node:fs/promises';
import type { SourceFileFacts } from '../core/index.ts';

const RACY_MARGIN_NS = 1_000_000_000n;

type FileFacts = Omit<SourceFileFacts, 'backing'>;

/** Facts of a regular image file and its backing chain, or null when they cannot vouch for it. */
export async function statSourceFile(absPath: string, backingPaths: readonly string[], nowMs: number = Date.now()): Promise<SourceFileFacts | null> {
  const top = await statRegularFile(absPath, nowMs);
  if (!top) return null;
  const backing: FileFacts[] = [];
  for (const p of backingPaths) {
    const f = await statRegularFile(p, nowMs);
    if (!f) return null;
    backing.push(f);
  }
  return backing.length > 0 ? { ...top, backing } : top;
}

async function statRegularFile(absPath: string, nowMs: number): Promise<FileFacts | null> {
  // A block device's mtime does not follow writes to it, and a protocol path is no file.
  const st = await stat(absPath, { bigint: true }).catch(() => null);
  if (!st?.isFile()) return null;
  if (BigInt(nowMs) * 1_000_000n - st.ctimeNs < RACY_MARGIN_NS) return null;
  return {
    path: absPath, sizeBytes: Number(st.size), mtimeNs: st.mtimeNs.toString(), ctimeNs: st.ctimeNs.toString(),
    inode: st.ino.toString(), device: st.dev.toString(),
  };
}
