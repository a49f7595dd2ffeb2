// Wraps any Target with the per-target parallelism limit and bandwidth limit, so every
// back-end honours `connections` and `limitMBps` the same way: at most N operations in
// flight, and put/get charge the bytes they move to the target's token bucket.

import type { ByteRange, ObjectInfo, Target } from '../core/index.ts';
import { BandwidthLimiter, Semaphore } from './transfer-limits.ts';

export class ThrottledTarget implements Target {
  readonly displayUrl: string;
  private readonly inner: Target;
  private readonly slots: Semaphore;
  private readonly bandwidth: BandwidthLimiter | null;

  constructor(inner: Target, parallelOps: number, limitMBps: number | null) {
    this.inner = inner;
    this.displayUrl = inner.displayUrl;
    this.slots = new Semaphore(parallelOps);
    this.bandwidth = limitMBps === null ? null : new BandwidthLimiter(limitMBps * 1e6);
  }

  put(name: string, data: Uint8Array): Promise<void> {
    return this.slots.run(async () => {
      await this.bandwidth?.consume(data.length);
      await this.inner.put(name, data);
    });
  }

  create(name: string, data: Uint8Array): Promise<boolean> {
    return this.slots.run(async () => {
      await this.bandwidth?.consume(data.length);
      return await this.inner.create(name, data);
    });
  }

  get(name: string, range?: ByteRange): Promise<Buffer> {
    return this.slots.run(async () => {
      const data = await this.inner.get(name, range);
      await this.bandwidth?.consume(data.length);
      return data;
    });
  }

  list(prefix: string): Promise<ObjectInfo[]> {
    return this.slots.run(() => this.inner.list(prefix));
  }

  delete(name: string): Promise<void> {
    return this.slots.run(() => this.inner.delete(name));
  }

  stat(name: string): Promise<ObjectInfo | null> {
    return this.slots.run(() => this.inner.stat(name));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
