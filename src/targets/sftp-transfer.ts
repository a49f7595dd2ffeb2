// Moving bytes over one SFTP channel quickly: SFTP caps each READ/WRITE at tens of KiB, so
// a whole object moves as many requests kept in flight together (a window), which is what
// fills the link; one request at a time would be bound by the round trip.

import { VmbakError, type ByteRange } from '../core/index.ts';
import type { SftpSession } from './sftp-session.ts';

const PIECE_BYTES = 64 * 1024;
const WINDOW = 64;

async function forEachPiece(totalBytes: number, task: (offset: number, length: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const worker = async (): Promise<void> => {
    while (next < totalBytes && failed === null) {
      const offset = next;
      const length = Math.min(PIECE_BYTES, totalBytes - offset);
      next += length;
      try {
        await task(offset, length);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(WINDOW, Math.ceil(totalBytes / PIECE_BYTES)) }, worker));
  if (failed !== null) throw failed;
}

/** Writes data to a new file at path (exclusive create), fsyncs it where possible, closes it. */
export async function writeRemoteFile(s: SftpSession, path: string, data: Uint8Array): Promise<void> {
  const handle = await s.open(path, 'wx');
  let ok = false;
  try {
    const buf = Buffer.from(data.buffer, data.byteOffset, data.length);
    await forEachPiece(buf.length, (offset, length) => s.write(handle, buf.subarray(offset, offset + length), offset));
    if (s.hasExtension('fsync@openssh.com')) await s.fsync(handle);
    ok = true;
  } finally {
    const closing = s.closeHandle(handle);
    if (ok) await closing;
    else await closing.catch(() => {});
  }
}

/** Reads a whole file or a range of it; a file shorter than the range is an error. */
export async function readRemoteFile(s: SftpSession, path: string, range: ByteRange | undefined, target: string, name: string): Promise<Buffer> {
  const handle = await s.open(path, 'r');
  try {
    const offset = range?.offsetBytes ?? 0;
    const length = range?.lengthBytes ?? (await s.fstat(handle)).size - offset;
    const buf = Buffer.allocUnsafe(Math.max(length, 0));
    let shortAt = -1;
    await forEachPiece(length, async (at, len) => {
      let done = 0;
      while (done < len) {
        const n = await s.read(handle, buf, at + done, len - done, offset + at + done);
        if (n === 0) { shortAt = at + done; return; }
        done += n;
      }
    });
    if (shortAt >= 0) {
      throw new VmbakError('TARGET_IO', { target, op: 'get', object: name, detail: `short read (object ends before ${offset + length} bytes)` });
    }
    return buf;
  } finally {
    await s.closeHandle(handle).catch(() => {});
  }
}

