// The per-target bandwidth limit (`?limitMBps=`) holds in practice: 32 MiB moved to and from
// a real SFTP server (OpenSSH sshd on loopback) at 8 MB/s takes 32 MiB / 8 MB/s = 4.19 s
// within ±25%, as objects of the size a backup writes (1 MiB) sent over parallel connections.
// The same transfer without a limit is timed too, so the test shows that the limit, not the
// link, sets the pace. A behaviour test, not a performance goal.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshdForTargets, type Sshd } from '../../test/support/sshd.ts';
import { openTarget } from './open-target.ts';
import type { Target } from '../core/index.ts';

const MiB = 1024 * 1024;
const LIMIT_MBPS = 8;
const OBJECTS = 32;
const EXPECTED_MS = ((OBJECTS * MiB) / (LIMIT_MBPS * 1e6)) * 1000;
let sshd: Sshd;
const base = await mkdtemp(join(tmpdir(), 'vmbak-bwlimit-'));
const blobs = Array.from({ length: OBJECTS }, () => randomBytes(MiB));

before(async () => { sshd = await startSshdForTargets(); });
after(async () => { await Promise.all([sshd.stop(), rm(base, { recursive: true, force: true })]); });

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

const putAll = (t: Target): Promise<unknown> => Promise.all(blobs.map((b, i) => t.put(`obj/${i}`, b)));
const getAll = (t: Target): Promise<unknown> => Promise.all(blobs.map(async (b, i) => assert.ok((await t.get(`obj/${i}`)).equals(b))));

test(`sftp: ${OBJECTS} MiB at limitMBps=${LIMIT_MBPS} take ${(EXPECTED_MS / 1000).toFixed(2)} s ±25% each way`, { timeout: 120_000 }, async (t) => {
  const dir = join(base, 'limited');
  const url = `sftp://${sshd.user}@127.0.0.1:${sshd.port}${dir}`;
  const warm = await openTarget(url);
  await warm.put('warmup', Buffer.from('w')); // the directory and the host key pin, outside the timing
  await warm.close();

  const free = await openTarget(`${url}-free`);
  const freeMs = await timed(() => putAll(free));
  await free.close();

  const limited = await openTarget(`${url}?limitMBps=${LIMIT_MBPS}`);
  try {
    await limited.stat('warmup'); // connected before the clock starts
    const putMs = await timed(() => putAll(limited));
    const getMs = await timed(() => getAll(limited));
    t.diagnostic(`unlimited upload ${freeMs.toFixed(0)} ms; at ${LIMIT_MBPS} MB/s: upload ${putMs.toFixed(0)} ms, download ${getMs.toFixed(0)} ms, expected ${EXPECTED_MS.toFixed(0)} ms`);
    assert.ok(freeMs < EXPECTED_MS * 0.6, `without a limit the link is much faster (${freeMs.toFixed(0)} ms), so the limit is what is measured`);
    for (const [what, ms] of [['upload', putMs], ['download', getMs]] as const) {
      assert.ok(Math.abs(ms - EXPECTED_MS) <= EXPECTED_MS * 0.25, `${what} took ${ms.toFixed(0)} ms, expected ${EXPECTED_MS.toFixed(0)} ms ±25%`);
    }
  } finally {
    await limited.close();
  }
});
