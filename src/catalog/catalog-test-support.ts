// Test helpers for the catalog: a fresh catalog file in its own temporary folder, with a
// clock the test moves, removed when the test ends.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Clock } from '../core/index.ts';
import { openCatalog, type OpenCatalog } from './open.ts';

export interface TestClock extends Clock {
  set(ms: number): void;
  advance(ms: number): void;
}

export function testClock(startMs = Date.UTC(2026, 0, 1)): TestClock {
  let now = startMs;
  return { nowMs: () => now, set: (ms) => { now = ms; }, advance: (ms) => { now += ms; } };
}

export function tempDir(t: TestContext, prefix = 'vmbak-catalog-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function tempCatalog(t: TestContext, clock: Clock = testClock()): Promise<OpenCatalog & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'vmbak-catalog-'));
  const catalog = await openCatalog(join(dir, 'catalog.db'), { clock });
  t.after(async () => {
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return Object.assign(catalog, { dir });
}
