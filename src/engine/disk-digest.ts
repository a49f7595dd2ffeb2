// Re-chunks a restored raw image and computes the same digest the manifest recorded at
// backup time (SHA-256 over the ordered chunk ids), proving the restored bytes are the
// backed-up ones without trusting the restore path that wrote them.

import { open } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { ZERO_CHUNK_ID } from '../repository/index.ts';
import type { WorkerPool } from './worker-pool.ts';
import { runLimited } from './backup-disk.ts';

const BATCH_BYTES = 4 << 20;

export async function digestRawImage(path: string, sizeBytes: number, chunkSizeBytes: number, pool: WorkerPool, signal: AbortSignal): Promise<string> {
  const count = Math.ceil(sizeBytes / chunkSizeBytes);
  const ids = Buffer.alloc(count * 32);
  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / chunkSizeBytes));
  const fh = await open(path, 'r');
  try {
    const batches = Array.from({ length: Math.ceil(count / perBatch) }, (_, b) => b * perBatch);
    await runLimited(batches, 4, signal, async (first) => {
      const offset = first * chunkSizeBytes;
      const length = Math.min(perBatch * chunkSizeBytes, sizeBytes - offset);
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      if (bytesRead !== length) throw new Error(`short read at ${offset}`);
      const reply = await pool.run(pool.pick(), { op: 'hash', jobId: pool.newJobId(), data: buf.buffer as ArrayBuffer, chunkSizeBytes, keep: false }, [buf.buffer as ArrayBuffer]);
      if (reply.op !== 'hash') throw new Error('unexpected worker reply');
      const got = Buffer.from(reply.ids);
      for (let n = 0; n * chunkSizeBytes < length; n++) {
        (reply.zero[n] ? ZERO_CHUNK_ID : got.subarray(n * 32, n * 32 + 32)).copy(ids, (first + n) * 32);
      }
    });
  } finally {
    await fh.close();
  }
  return createHash('sha256').update(ids).digest('hex');
}
