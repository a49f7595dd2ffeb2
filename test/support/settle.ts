// Timing how long an operation takes to fail, for tests that break a server under it, and
// waiting until an upload is provably under way before breaking it.

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface Settled {
  readonly error: unknown;
  readonly elapsedMs: number;
}

/** Waits for work to settle, up to capMs (a hang then fails the test instead of stalling it). */
export async function settleTimed(work: Promise<unknown>, capMs = 120_000): Promise<Settled> {
  const startedMs = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<Settled>((resolve) => {
    timer = setTimeout(() => resolve({ error: new Error(`still pending after ${capMs} ms`), elapsedMs: Infinity }), capMs);
  });
  const done = work.then(
    () => ({ error: null, elapsedMs: performance.now() - startedMs }),
    (error: unknown) => ({ error, elapsedMs: performance.now() - startedMs }),
  );
  try {
    return await Promise.race([done, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once a file in dir whose name contains marker has bytes in it, or work settled. */
export async function untilGrowing(dir: string, marker: string, work: Promise<unknown>): Promise<void> {
  let settled = false;
  work.then(() => { settled = true; }, () => { settled = true; });
  while (!settled) {
    for (const f of (await readdir(dir).catch(() => [] as string[])).filter((name) => name.includes(marker))) {
      if (((await stat(join(dir, f)).catch(() => null))?.size ?? 0) > 0) return;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}
