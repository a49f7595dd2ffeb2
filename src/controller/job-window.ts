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
