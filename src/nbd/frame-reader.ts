// Turns a socket's arbitrary-sized chunks into exact-length fields without a growing
// buffer: the consumer names the next destination (a header buffer, or a slice of the
// caller's read buffer). When much of a destination is still missing, the socket reads
// straight into it (nextReadBuffer), so read data is never copied in user space; small
// fields go through a shared buffer and are copied once. That is what keeps 4 MiB reads
// near the speed of the server. Used by the handshake (via
// readExact) and by the transmission parser (via expect); the NBD server can reuse it.

type OnFull = () => void;

/** Below this many missing bytes a direct read costs more syscalls than the copy it saves. */
const DIRECT_READ_MIN_BYTES = 64 * 1024;

export class FrameReader {
  private target: Buffer | null = null;
  private filledBytes = 0;
  private onFull: OnFull | null = null;
  /** Bytes that arrived while no destination was set (only between handshake steps). */
  private backlog: Buffer[] = [];
  private failure: Error | null = null;
  private waiter: { reject: (err: Error) => void } | null = null;

  /** Sets where the next target.length bytes go; onFull runs synchronously once they are there. */
  expect(target: Buffer, onFull: OnFull): void {
    if (this.target) throw new Error('FrameReader: a destination is already set');
    this.target = target;
    this.filledBytes = 0;
    this.onFull = onFull;
    if (target.length === 0) { this.complete(); return; }
    if (this.backlog.length > 0) {
      const pending = this.backlog;
      this.backlog = [];
      for (const chunk of pending) this.push(chunk, true);
    }
  }

  /** The next lengthBytes bytes, for the handshake where speed does not matter. */
  readExact(lengthBytes: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const buf = Buffer.allocUnsafe(lengthBytes);
      this.waiter = { reject };
      this.expect(buf, () => { this.waiter = null; resolve(buf); });
    });
  }

  /**
   * Where the socket's next read should land (net's onread.buffer as a function): the
   * unfilled rest of a large destination, or the shared buffer.
   */
  nextReadBuffer(shared: Buffer): Buffer {
    const target = this.target;
    if (target && this.backlog.length === 0 && target.length - this.filledBytes >= DIRECT_READ_MIN_BYTES) {
      return target.subarray(this.filledBytes);
    }
    return shared;
  }

  /** net's onread.callback: `buf` is the buffer nextReadBuffer returned for this read. */
  onSocketRead(bytesRead: number, buf: Uint8Array): void {
    const target = this.target;
    if (target && buf.buffer === target.buffer && buf.byteOffset === target.byteOffset + this.filledBytes) {
      // Landed in place: only account for it.
      this.filledBytes += bytesRead;
      if (this.filledBytes === target.length) this.complete();
      return;
    }
    this.push(Buffer.from(buf.buffer, buf.byteOffset, bytesRead));
  }

  /**
   * Feeds a chunk from the socket. `owned` says the chunk may be kept as is; otherwise
   * leftovers are copied, because a socket's onread buffer is reused after this returns.
   */
  push(chunk: Buffer, owned = false): void {
    let at = 0;
    while (at < chunk.length) {
      const target = this.target;
      if (!target) {
        const rest = chunk.subarray(at);
        this.backlog.push(owned ? rest : Buffer.from(rest));
        return;
      }
      const n = Math.min(target.length - this.filledBytes, chunk.length - at);
      chunk.copy(target, this.filledBytes, at, at + n);
      this.filledBytes += n;
      at += n;
      if (this.filledBytes === target.length) this.complete();
    }
  }

  /** Ends reading: a pending readExact rejects, and so does every later one. */
  fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.target = null;
    this.onFull = null;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(err);
  }

  private complete(): void {
    const onFull = this.onFull!;
    this.target = null;
    this.onFull = null;
    onFull();
  }
}
