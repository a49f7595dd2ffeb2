// A job's backup window, as the scheduler put it into the job's params: the time by which it
// must have started (the window's end), what a job still running then does, and when the
// window opens again (where a paused job resumes).

export interface JobWindow {
  /** The window's end: a job not started by then is skipped. */
  notAfterMs: number;
  readonly atEnd: 'continue' | 'pause';
  /** The next start of the window after notAfterMs, or null when unknown. */
  resumeAtMs: number | null;
  /** True while the runner holds the job paused for the window. */
  windowPaused: boolean;
}

/** The window in a job's params (`notAfterMs`, `atEnd`, `resumeAtMs`), or null without one. */
export function jobWindow(params: Record<string, unknown>): JobWindow | null {
  const notAfterMs = params.notAfterMs;
  if (typeof notAfterMs !== 'number') return null;
  const resumeAtMs = typeof params.resumeAtMs === 'number' ? params.resumeAtMs : null;
  return { notAfterMs, atEnd: params.atEnd === 'pause' ? 'pause' : 'continue', resumeAtMs, windowPaused: false };
}

export type WindowStep =
  | { readonly kind: 'skip'; readonly message: string }
  /** limitMs bounds the pause by the window's return (plus a minute), not the API's maxPauseMs: the policy asked for it. */
  | { readonly kind: 'pause'; readonly limitMs: number; readonly message: string }
  | { readonly kind: 'resume'; readonly message: string };

/** What the window asks of a job at nowMs, given where the job is; null: nothing. */
export function windowStep(w: JobWindow, nowMs: number, where: 'queued' | 'running' | 'paused' | 'gone'): WindowStep | null {
  if (where === 'queued') {
    return nowMs > w.notAfterMs ? { kind: 'skip', message: `skipped: not started before the backup window ended (${new Date(w.notAfterMs).toISOString()})` } : null;
  }
  if (where === 'gone' || w.atEnd !== 'pause' || w.resumeAtMs === null) return null;
  if (!w.windowPaused && where === 'running' && nowMs > w.notAfterMs) {
    return { kind: 'pause', limitMs: Math.max(0, w.resumeAtMs - nowMs) + 60_000, message: `paused: the backup window ended; resumes at ${new Date(w.resumeAtMs).toISOString()}` };
  }
  if (w.windowPaused && nowMs >= w.resumeAtMs) return { kind: 'resume', message: 'resumed: the backup window opened' };
  return null;
}

/** After a window pause ends: windows recur daily, so the next end and return are a day on. */
export function advanceWindow(w: JobWindow): void {
  w.windowPaused = false;
  w.notAfterMs += 86_400_000;
  if (w.resumeAtMs !== null) w.resumeAtMs += 86_400_000;
}
