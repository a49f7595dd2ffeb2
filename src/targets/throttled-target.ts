// Wraps any Target with the per-target parallelism limit and bandwidth limit, so every
// back-end honours `connections` and `limitMBps` the same way: at most N operations in
// flight, and put/get charge the bytes they move to the target's token bucket. It also puts a
// deadline on every operation — twice `timeoutMs` plus the time to move its bytes at 1 MB/s —
// so a server that dies in a way the client library never notices fails the operation
// (retryable, so failover moves on) instead of hanging the backup.

import { VmbakError, type ByteRange, type ObjectInfo, type Target, type TargetSpace } from '../core/index.ts';
import { BandwidthLimiter, Semaphore } from './transfer-limits.ts';

export class ThrottledTarget implements Target {
  readonly displayUrl: string;
  private readonly inner: Target;
  private readonly slots: Semaphore;
  private readonly bandwidth: BandwidthLimiter | null;
  private readonly timeoutMs: number;

  constructor(inner: Target, parallelOps: number, limitMBps: number | null, timeoutMs = 60_000) {
    this.inner = inner;
    this.timeoutMs = timeoutMs;
    this.displayUrl = inner.displayUrl;
    this.slots = new Semaphore(parallelOps);
    this.bandwidth = limitMBps === null ? null : new BandwidthLimiter(limitMBps * 1e6);
  }

  put(name: string, data: Uint8Array): Promise<void> {
    return this.slots.run(async () => {
      await this.bandwidth?.consume(data.length);
      await this.deadline('put', name, data.length, this.inner.put(name, data));
    });
  }

  create(name: string, data: Uint8Array): Promise<boolean> {
    return this.slots.run(async () => {
      await this.bandwidth?.consume(data.length);
      return await this.deadline('create', name, data.length, this.inner.create(name, data));
    });
  }

  get(name: string, range?: ByteRange): Promise<Buffer> {
    return this.slots.run(async () => {
      const data = await this.deadline('get', name, range?.lengthBytes ?? 64 << 20, this.inner.get(name, range));
      await this.bandwidth?.consume(data.length);
      return data;
    });
  }

  list(prefix: string): Promise<ObjectInfo[]> {
    return this.slots.run(() => this.deadline('list', prefix, 0, this.inner.list(prefix)));
  }

  delete(name: string): Promise<void> {
    return this.slots.run(() => this.deadline('delete', name, 0, this.inner.delete(name)));
  }

  stat(name: string): Promise<ObjectInfo | null> {
    return this.slots.run(() => this.deadline('stat', name, 0, this.inner.stat(name)));
  }

  async space(): Promise<TargetSpace | null> {
    return (await this.inner.space?.()) ?? null;
  }

  prepare(): Promise<void> {
    return this.slots.run(async () => {
      await this.deadline('prepare', this.displayUrl, 0, this.inner.prepare?.() ?? Promise.resolve());
    });
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private deadline<T>(op: string, object: string, bytes: number, work: Promise<T>): Promise<T> {
    const limitMs = 2 * this.timeoutMs + bytes / 1000;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new VmbakError('TARGET_UNREACHABLE', {
        target: this.displayUrl, detail: `no answer to ${op} ${object} within ${Math.round(limitMs / 1000)} s`,
      })), limitMs);
      timer.unref();
    });
    return Promise.race([work, expired]).finally(() => clearTimeout(timer));
  }
}
