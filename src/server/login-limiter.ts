// Failed logins are counted per client address and per user name over a sliding window; once
// either has `maxFailures` within `windowMs`, further attempts are refused with 429 before the
// password is even checked, so guessing costs a minute per handful of tries. Counting per name
// too stops a guesser spread over many addresses. Kept in memory: a restart forgets, which
// costs an attacker nothing worth having. Time comes from the catalog's clock, so tests move it.

import type { Clock } from '../core/index.ts';

export interface LoginLimits {
  readonly maxFailures: number;
  readonly windowMs: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { maxFailures: 5, windowMs: 60_000 };

/** Keys kept at most; the oldest go first, so a flood of made-up names cannot grow memory. */
const MAX_KEYS = 10_000;

export class LoginLimiter {
  readonly #clock: Clock;
  readonly #limits: LoginLimits;
  readonly #failures = new Map<string, number[]>();

  constructor(clock: Clock, limits: LoginLimits = DEFAULT_LOGIN_LIMITS) {
    this.#clock = clock;
    this.#limits = limits;
  }

  /** Whole seconds until every one of `keys` may try again; 0 when all may now. */
  retryAfterSeconds(keys: readonly string[]): number {
    let waitMs = 0;
    for (const key of keys) {
      const recent = this.#recent(key);
      if (recent.length >= this.#limits.maxFailures) {
        waitMs = Math.max(waitMs, recent[recent.length - this.#limits.maxFailures]! + this.#limits.windowMs - this.#clock.nowMs());
      }
    }
    return Math.ceil(waitMs / 1000);
  }

  recordFailure(keys: readonly string[]): void {
    for (const key of keys) {
      const recent = this.#recent(key);
      recent.push(this.#clock.nowMs());
      this.#failures.delete(key); // re-inserted last: Map order is the eviction order
      this.#failures.set(key, recent);
    }
    while (this.#failures.size > MAX_KEYS) this.#failures.delete(this.#failures.keys().next().value!);
  }

  clear(key: string): void { this.#failures.delete(key); }

  #recent(key: string): number[] {
    const sinceMs = this.#clock.nowMs() - this.#limits.windowMs;
    return (this.#failures.get(key) ?? []).filter((t) => t > sinceMs);
  }
}
