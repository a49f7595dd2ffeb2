// Pausing a running backup: the pipeline waits at this gate before each read, so while paused
// no new data is read (reads already in flight finish) and the hypervisor's backup job is
// simply held open. A pause has a maximum length because a held libvirt job keeps QEMU's
// copy-before-write filter — and its scratch file — growing with every guest write; when the
// limit passes, onExpire fires once (the caller aborts the backup cleanly).

export interface PauseGateOptions {
  /** Longest allowed pause; onExpire fires when one lasts longer. */
  readonly maxPauseMs: number;
  readonly onExpire: (pausedMs: number) => void;
  /** Told after every change of state (for status files). */
  readonly onChange?: (paused: boolean) => void;
}

export class PauseGate {
  readonly #opts: PauseGateOptions;
  #paused = false;
  #pausedAtMs: number | null = null;
  #timer: NodeJS.Timeout | null = null;
  #waiters: (() => void)[] = [];

  constructor(opts: PauseGateOptions) {
    this.#opts = opts;
  }

  get paused(): boolean { return this.#paused; }
  get pausedAtMs(): number | null { return this.#pausedAtMs; }

  /**
   * Returns false when already paused. `limitMs` replaces maxPauseMs for this pause: a pause
   * the policy asked for (a backup window's end until it reopens) may be longer.
   */
  pause(limitMs = this.#opts.maxPauseMs): boolean {
    if (this.#paused) return false;
    this.#paused = true;
    this.#pausedAtMs = Date.now();
    this.#timer = setTimeout(() => this.#opts.onExpire(Date.now() - this.#pausedAtMs!), limitMs);
    this.#timer.unref();
    this.#opts.onChange?.(true);
    return true;
  }

  /** Returns false when not paused. */
  resume(): boolean {
    if (!this.#paused) return false;
    this.#paused = false;
    this.#pausedAtMs = null;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    for (const wake of this.#waiters.splice(0)) wake();
    this.#opts.onChange?.(false);
    return true;
  }

  /** Resolves at once when running, else on resume; rejects with the abort reason on abort. */
  wait(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (!this.#paused) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        reject(signal.reason);
      };
      const wake = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#waiters.push(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stops the expiry timer (the job ended). */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
