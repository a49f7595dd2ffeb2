// Per-target throttles: a token bucket over bytes moved (the optional MB/s limit) and a
// counting semaphore (the parallel-operation limit). Both are per Target instance, so two
// targets never share a budget. The bucket lets a transfer go into debt and makes the
// next one wait it off, so the long-run rate honours the limit whatever the object size.

export class BandwidthLimiter {
  private readonly bytesPerSecond: number;
  private readonly burstBytes: number;
  private tokens: number;
  private lastRefillMs: number;
  private readonly nowMs: () => number;

  constructor(bytesPerSecond: number, nowMs: () => number = () => performance.now()) {
    this.bytesPerSecond = bytesPerSecond;
    this.burstBytes = bytesPerSecond / 4;
    this.nowMs = nowMs;
    this.tokens = this.burstBytes;
    this.lastRefillMs = nowMs();
  }

  /** Charges sizeBytes and waits until the bucket is out of debt again. */
  async consume(sizeBytes: number): Promise<void> {
    this.refill();
    this.tokens -= sizeBytes;
    if (this.tokens >= 0) return;
    const waitMs = (-this.tokens / this.bytesPerSecond) * 1000;
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  }

  private refill(): void {
    const now = this.nowMs();
    this.tokens = Math.min(this.burstBytes, this.tokens + ((now - this.lastRefillMs) / 1000) * this.bytesPerSecond);
    this.lastRefillMs = now;
  }
}

export class Semaphore {
  private available: number;
  private readonly waiters: Array<() => void> = [];

  constructor(count: number) {
    this.available = count;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.available > 0) this.available--;
    else await new Promise<void>((resolve) => this.waiters.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.waiters.shift();
      if (next) next();
      else this.available++;
    }
  }
}
