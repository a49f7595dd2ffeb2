// Retries with exponential backoff for alert sends: attempt, wait base·2^n (capped), attempt
// again, until one succeeds, the attempts run out, or a failure says retrying is pointless
// (a webhook answering 4xx). Returns what happened instead of throwing: a failed alert is
// recorded, never raised to whoever raised the event.

import { setTimeout as sleepMs } from 'node:timers/promises';
import { describeError } from '../core/index.ts';

export interface RetryOptions {
  /** Attempts after the first. */
  readonly retries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly sleep?: (ms: number) => Promise<unknown>;
}

export interface RetryOutcome {
  readonly ok: boolean;
  readonly attempts: number;
  /** Why the last attempt failed, or null on success. */
  readonly reason: string | null;
}

/** A failure that no retry can fix. */
export class PermanentFailure extends Error {}

export async function withRetries(attempt: (n: number) => Promise<void>, opts: RetryOptions): Promise<RetryOutcome> {
  const sleep = opts.sleep ?? sleepMs;
  let reason = '';
  for (let n = 1; n <= opts.retries + 1; n++) {
    try {
      await attempt(n);
      return { ok: true, attempts: n, reason: null };
    } catch (err) {
      reason = describeError(err);
      if (err instanceof PermanentFailure || n > opts.retries) return { ok: false, attempts: n, reason };
    }
    await sleep(Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** (n - 1)));
  }
  return { ok: false, attempts: opts.retries + 1, reason };
}
