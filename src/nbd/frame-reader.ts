// Turns a socket's arbitrary-sized chunks into exact-length fields without a growing
// buffer: the consumer names the next destination (a header buffer, or a slice of the
// caller's read buffer) and bytes are copied there once, straight from the socket chunk.
// That single copy is what keeps 4 MiB reads above 1.5 GB/s. Used by the handshake (via
// readExact) and by the transmission parser (via expect); the NBD server can reuse it.

type OnFull = () => void;

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
