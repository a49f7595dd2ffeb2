// Catalog benchmark through HTTP (`npm run bench:catalog` runs it after catalog-bench.ts; not
// part of the test suite). It serves a filled catalog with the real API over the real
// Controller (no local agent, so no hypervisor) on a loopback socket, and times what the
// console asks most — one VM's backups, the dashboard summary, a job-history page — with a
// keep-alive client, first idle and then while 20 jobs run. It prints the catalog file size
// and this process's RSS (the controller, the API and the small client share it) idle and
// during the jobs.
//
// The 20 jobs: a controller without an agent runs none, so a JobRunner over the same catalog
// (20 streams) runs 20 `verify` jobs whose executor only sleeps and reports progress — the
// runner's catalog writes (state, progress every 250 ms, log lines) and live updates are real,
// the repository work is not.
//
//   node bench/catalog-http-bench.ts [--vms 10000] [--days 365] [--requests 300]
// The catalog lives in bench/work/<vms>x<days>/catalog.sqlite. catalog-bench.ts runs first on
// it: it fills it when missing (about 5 minutes at full size) and times the queries directly.

import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createApiToken, dataDirPaths, getJob } from '../src/catalog/index.ts';
import { Controller, JobRunner, type JobExecutor } from '../src/controller/index.ts';
import { formatBytes } from '../src/core/index.ts';
import { createApiServer, listenApiServer } from '../src/server/index.ts';

const { values: args } = parseArgs({
  options: {
    vms: { type: 'string', default: '10000' }, days: { type: 'string', default: '365' },
    requests: { type: 'string', default: '300' },
  },
});
const vmCount = Number(args.vms);
const days = Number(args.days);
const requests = Number(args.requests);
const here = dirname(fileURLToPath(import.meta.url));
const dataDir = join(here, 'work', `${vmCount}x${days}`);
const catalogFile = dataDirPaths(dataDir).catalog;

// catalog-bench.ts fills the catalog when it is missing, and times the same queries directly.
{
  mkdirSync(dataDir, { recursive: true });
  const fill = spawnSync(process.execPath, [join(here, 'catalog-bench.ts'), '--vms', String(vmCount), '--days', String(days), '--file', catalogFile, '--keep'], { stdio: 'inherit' });
  if (fill.status !== 0) process.exit(fill.status ?? 1);
}

const nameOf = (i: number): string => `vm${String(i).padStart(5, '0')}`;
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

console.log(`HTTP benchmark over ${catalogFile} (${formatBytes(statSync(catalogFile).size)}), ${vmCount} VMs × ${days} days`);
// The controller's clock reads the filled catalog's "now" (as catalog-bench.ts: half a day after
// the last nightly run) and moves on from there, so RPO figures are those of a live fleet —
// 9 000 VMs within their RPO, 1 000 whose newest backup failed verify — not a year stale.
const fillNowMs = Date.UTC(2025, 0, 1, 2, 0, 0) + (days - 1) * 86_400_000 + 43_200_000;
const offsetMs = Date.now() - fillNowMs;
const clock = { nowMs: () => Date.now() - offsetMs };
const controller = await Controller.open({ dataDir, localAgent: false, streams: 1, log: quiet, schedulerTickMs: 60_000, clock });
const app = createApiServer({ controller, logger: false });
const url = await listenApiServer(app, { host: '127.0.0.1', port: 0, tls: false });
await controller.start();
const viewer = (await createApiToken(controller.catalog, { name: `bench-${Date.now()}`, role: 'viewer' })).token;
const headers = { authorization: `Bearer ${viewer}` };

/** One GET through the keep-alive client (Node's fetch pools connections); fails on anything but 200. */
async function get(path: string): Promise<void> {
  const res = await fetch(url + path, { headers });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${body.slice(0, 200)}`);
}

async function time(label: string, runs: number, path: (i: number) => string): Promise<void> {
  for (let i = 0; i < 5; i++) await get(path(i)); // warm the connection, statement cache and pages
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await get(path(i));
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const pct = (p: number) => ms[Math.min(ms.length - 1, Math.floor((p / 100) * ms.length))]!;
  const verdict = pct(99) < 50 ? 'ok' : 'OVER the 50 ms goal';
  console.log(`  ${label.padEnd(40)} p50 ${pct(50).toFixed(2).padStart(8)} ms   p99 ${pct(99).toFixed(2).padStart(8)} ms   (${runs} requests, ${verdict})`);
}

let seed = 12345;
const randomVm = (): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % vmCount; };
/** The three requests; then how long the event loop (server and client share it) was held. */
async function timeAll(): Promise<void> {
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  await time('GET /backups?vm=NAME&limit=50', requests, () => `/api/v1/backups?vm=${nameOf(randomVm())}&limit=50`);
  await time('GET /dashboard', Math.max(50, Math.round(requests / 3)), () => '/api/v1/dashboard');
  await time('GET /jobs?limit=50', requests, () => '/api/v1/jobs?limit=50');
  loop.disable();
  console.log(`  event-loop delay meanwhile: p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms`);
}

try {
  globalThis.gc?.();
  console.log(`idle (RSS ${mib(process.memoryUsage().rss)} after start-up):`);
  await timeAll();
  console.log(`  RSS idle after the requests: ${mib(process.memoryUsage().rss)}`);

  const jobMs = 30_000;
  const sleepy: JobExecutor = async (ctx) => {
    for (let t = 0; t < jobMs; t += 100) {
      await ctx.gate.wait(ctx.signal);
      await new Promise((r) => setTimeout(r, 100));
      ctx.progress.bytesRead += 64 * 2 ** 20;
      if (t % 5000 === 0) ctx.log('info', `bench job at ${t / 1000} s`);
    }
    return { state: 'succeeded' };
  };
  const runner = new JobRunner({ catalog: controller.catalog, host: 'bench', streams: 20, executors: { verify: sleepy }, progressEveryMs: 250 });
  let peakRss = 0;
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 100);
  const t0 = performance.now();
  const jobs = await Promise.all(Array.from({ length: 20 }, (_, i) => runner.submit({ kind: 'verify', trigger: 'manual', params: { repository: 'local', bench: i } })));
  console.log(`during 20 concurrent jobs (sleep-and-report verify jobs of ${jobMs / 1000} s, progress every 250 ms):`);
  await timeAll();
  const states = async () => Promise.all(jobs.map(async (j) => (await getJob(controller.catalog, j.id))?.state));
  while ((await states()).some((s) => s === 'queued' || s === 'running') && performance.now() - t0 < 4 * jobMs) {
    await new Promise((r) => setTimeout(r, 500));
  }
  clearInterval(sampler);
  await runner.stop('bench over');
  const byState = new Map<string, number>();
  for (const s of await states()) byState.set(String(s), (byState.get(String(s)) ?? 0) + 1);
  console.log(`  RSS peak during the jobs: ${mib(peakRss)}; jobs ${[...byState].map(([s, n]) => `${n} ${s}`).join(', ')} after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
} finally {
  await app.close();
  await controller.stop('bench over');
}
