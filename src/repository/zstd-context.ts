// zstd with one long-lived context per thread and level, for chunk-sized frames.
//
// Node's one-shot zstdCompressSync/zstdDecompressSync build and free a whole zstd context per
// call. For 64 KiB chunks that set-up is a third of the compression time, and the freed
// contexts fragment malloc's arenas by tens of MiB per worker thread. Node has no public call
// that reuses a context for separate frames, so this drives a zlib stream's native handle the
// way Node's own sync path does (writeSync into a caller's buffer): ZSTD_e_end ends a frame and
// leaves the context ready for the next. Where that handle is not there, or a call goes
// wrong, the one-shot functions give the answer and the context is made anew.

import { constants, createZstdCompress, createZstdDecompress, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import type { Transform } from 'node:stream';

interface NativeHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
}

/** A zlib stream with the parts of Node's implementation this module relies on. */
interface DrivableStream extends Transform {
  _handle?: NativeHandle | null;
  _writeState?: Uint32Array;
}

class FrameContext {
  private stream: DrivableStream | null = null;
  private usable = true;
  private readonly make: () => Transform;

  constructor(make: () => Transform) {
    this.make = make;
  }

  /**
   * Runs one whole frame from input into out[at, at + room); returns the bytes written, or
   * null when the context cannot be used or the frame did not end within the room given
   * (the context is then dropped, since it may hold part of a frame).
   */
  run(input: Uint8Array, out: Uint8Array, at: number, room: number): { written: number; inputLeft: number } | null {
    const stream = this.ready();
    if (!stream) return null;
    stream._handle!.writeSync(constants.ZSTD_e_end, input, 0, input.length, out, at, room);
    const [outLeft, inputLeft] = stream._writeState!;
    // An error destroys the stream (its 'error' is swallowed below); a full output buffer
    // means the frame may not have ended.
    if (stream.destroyed || outLeft === 0) {
      this.drop();
      return null;
    }
    return { written: room - outLeft!, inputLeft: inputLeft! };
  }

  drop(): void {
    this.stream?.destroy();
    this.stream = null;
  }

  private ready(): DrivableStream | null {
    if (this.stream || !this.usable) return this.stream;
    const stream = this.make() as DrivableStream;
    stream.on('error', () => {});
    if (typeof stream._handle?.writeSync !== 'function' || !(stream._writeState instanceof Uint32Array)) {
      this.usable = false;
      stream.destroy();
      return null;
    }
    this.stream = stream;
    return stream;
  }
}

const compressors = new Map<number, FrameContext>();
let decompressor: FrameContext | null = null;

function compressorFor(level: number): FrameContext {
  let context = compressors.get(level);
  if (!context) {
    context = new FrameContext(() => createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: level } }));
    compressors.set(level, context);
  }
  return context;
}

let frameScratch = Buffer.alloc(0);
let plainScratch = Buffer.alloc(0);

/** Room for any frame zstd makes of n bytes (its ZSTD_COMPRESSBOUND, rounded up). */
function frameBound(n: number): number {
  return n + (n >> 7) + 1024;
}

/** data as one zstd frame, in a buffer of this thread's that the next call reuses. */
export function compressFrame(data: Uint8Array, level: number): Buffer {
  const room = frameBound(data.length);
  if (frameScratch.length < room) frameScratch = Buffer.allocUnsafe(room);
  const result = compressorFor(level).run(data, frameScratch, 0, room);
  if (result && result.inputLeft === 0) return frameScratch.subarray(0, result.written);
  return zstdCompressSync(data, { pledgedSrcSize: data.length, params: { [constants.ZSTD_c_compressionLevel]: level } });
}

/**
 * One frame that must hold exactly plainBytes, decompressed into a buffer of this thread's
 * that the next call reuses; null when the frame is damaged or holds a different length.
 */
export function decompressFrame(frame: Uint8Array, plainBytes: number): Buffer | null {
  if (plainScratch.length < plainBytes + 1) plainScratch = Buffer.allocUnsafe(plainBytes + 1);
  return decompressFrameInto(frame, plainBytes, plainScratch, 0) ? plainScratch.subarray(0, plainBytes) : null;
}

/**
 * decompressFrame() straight into out[at, at + plainBytes): a restore decodes each chunk
 * where it is written from, without a copy. out needs one byte of room past that (it may be
 * overwritten); false when the frame is damaged or holds a different length.
 */
export function decompressFrameInto(frame: Uint8Array, plainBytes: number, out: Buffer, at: number): boolean {
  decompressor ??= new FrameContext(() => createZstdDecompress());
  // Room for one byte more than promised, so a longer frame shows (and is not left half-read
  // in the context), and a frame that ends exactly at the room's end is not taken for cut.
  if (out.length < at + plainBytes + 1) throw new RangeError('decompressFrameInto needs one byte of room past the chunk');
  const result = decompressor.run(frame, out, at, plainBytes + 1);
  if (result && result.inputLeft === 0 && result.written === plainBytes) return true;
  // Anything unexpected is settled by the one-shot call, whose answer is authoritative.
  decompressor.drop();
  try {
    const data = zstdDecompressSync(frame, { chunkSize: plainBytes + 1024 });
    if (data.length !== plainBytes) return false;
    data.copy(out, at);
    return true;
  } catch {
    return false;
  }
}
