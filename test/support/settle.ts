// Timing how long an operation takes to fail, for tests that break a server under it, and
// waiting until an upload is provably under way before breaking it.

import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isVmbakError, type Target } from '../../src/core/index.ts';

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

/** Asserts the work failed with a retryable TARGET_UNREACHABLE within limitMs (and says how fast). */
export function unreachableWithin(t: TestContext, settled: Settled, limitMs: number, what: string): void {
  t.diagnostic(`${what} settled in ${Math.round(settled.elapsedMs)} ms: ${String(settled.error)}`);
  assert.ok(isVmbakError(settled.error, 'TARGET_UNREACHABLE') && settled.error.retryable, `${what}: ${String(settled.error)}`);
  assert.ok(settled.elapsedMs < limitMs, `${what} settled after ${Math.round(settled.elapsedMs)} ms (limit ${limitMs})`);
}

/** Sockets this process still holds to the given port. */
export function socketsTo(port: number): number {
  const handles = (process as unknown as { _getActiveHandles(): Array<{ remotePort?: number; destroyed?: boolean }> })._getActiveHandles();
  return handles.filter((h) => h.remotePort === port && !h.destroyed).length;
}

/**
 * Starts a 400 MiB put to `target` (whose files land in the local folder `dir`), breaks the
 * server once the upload is provably under way, and asserts the put fails within limitMs.
 */
export async function bigUploadThen(t: TestContext, target: Target, dir: string, breakServer: () => Promise<void>, limitMs: number): Promise<void> {
  try {
    await target.put('warmup', Buffer.from('w'));
    const put = target.put('big.bin', Buffer.alloc(400 * 1024 * 1024, 7));
    await untilGrowing(dir, '.vmbak-tmp-', put);
    await breakServer();
    unreachableWithin(t, await settleTimed(put), limitMs, 'the put');
  } finally {
    await target.close();
  }
}
