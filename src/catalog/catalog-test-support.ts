// Test helpers for the catalog: a fresh catalog in its own temporary folder, with a clock the
// test moves, removed when the test ends. With VMBAK_TEST_POSTGRES set to a PostgreSQL
// server's URL (postgres.test.ts starts one and runs the catalog tests again with it), each
// catalog is a new database on that server instead: the same tests, the other database.

import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
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

/** Where a new, empty catalog for this test lives (a file path, or a PostgreSQL database URL); removed after it. */
export async function tempCatalogLocation(t: TestContext): Promise<string> {
  const { url, remove } = await newLocation();
  t.after(remove);
  return url;
}

/**
 * Cleanups that run before the test's catalogs are removed, last added first. t.after hooks run
 * in the order they were added, and tempCatalog adds its own when called (close, and on
 * PostgreSQL DROP DATABASE … WITH (FORCE)): a runner still polling or a second connection
 * closed after it would meet a terminated connection ("terminating connection due to
 * administrator command") and fail the test after it passed.
 */
export function beforeCatalogRemoval(t: TestContext): (fn: () => Promise<unknown>) => void {
  const fns: (() => Promise<unknown>)[] = [];
  t.after(async () => { for (const fn of fns.reverse()) await fn(); });
  return (fn) => { fns.push(fn); };
}

export async function tempCatalog(t: TestContext, clock: Clock = testClock()): Promise<OpenCatalog & { url: string }> {
  const { url, remove } = await newLocation();
  const catalog = await openCatalog(url, { clock });
  t.after(async () => {
    await catalog.close();
    await remove();
  });
  return Object.assign(catalog, { url });
}

async function newLocation(): Promise<{ url: string; remove: () => Promise<void> }> {
  const server = process.env.VMBAK_TEST_POSTGRES;
  if (!server) {
    const dir = mkdtempSync(join(tmpdir(), 'vmbak-catalog-'));
    return { url: join(dir, 'catalog.db'), remove: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `vmbak_${randomBytes(6).toString('hex')}`;
  await onServer(server, `CREATE DATABASE ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return { url: url.toString(), remove: () => onServer(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function onServer(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try { await client.query(statement); } finally { await client.end(); }
}
