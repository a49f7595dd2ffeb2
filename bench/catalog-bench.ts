// Catalog benchmark (`npm run bench:catalog` runs it before catalog-http-bench.ts, which times
// the same through the API; not part of the test suite): fills a catalog the
// size of a large deployment — 10 000 VMs on 20 hosts, 100 policies of 100 VMs, a year of
// daily backups (3.65 million) with the jobs and per-VM results that made them — through the
// catalog's own functions, then times the controller's three hot queries directly (no HTTP):
// one VM's backups (first page), the dashboard summary over all VMs, and a job history page.
// Prints p50/p99 of each, the file size and the time to fill.
//
//   node bench/catalog-bench.ts [--vms 10000] [--days 365] [--file PATH] [--keep]
// With --file naming an existing catalog, the fill is skipped (to time queries again).

import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import {
  assignVmPolicies, countJobVms, listBackups, setVerifyState, listJobs, openCatalog, recordBackups, SecretsBox, summarizeProtection,
  syncHostVms, upsertPolicy, upsertRepository, type BackupInput, type OpenCatalog,
} from '../src/catalog/index.ts';
import { formatBytes, type VmInfo } from '../src/core/index.ts';

const DAY_MS = 86_400_000;
const HOSTS = 20;
const VMS_PER_POLICY = 100;

const { values: args } = parseArgs({
  options: { vms: { type: 'string', default: '10000' }, days: { type: 'string', default: '365' }, file: { type: 'string' }, keep: { type: 'boolean', default: false } },
});
const vmCount = Number(args.vms);
const days = Number(args.days);
const dir = args.file ? null : mkdtempSync(join(tmpdir(), 'vmbak-catalog-bench-'));
const file = args.file ?? join(dir!, 'catalog.db');
const startMs = Date.UTC(2025, 0, 1, 2, 0, 0);
// Half a day after the last nightly run: VMs whose newest backup failed verify miss the 26 h RPO.
const nowMs = startMs + (days - 1) * DAY_MS + DAY_MS / 2;

const uuidOf = (i: number): string => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
const nameOf = (i: number): string => `vm${String(i).padStart(5, '0')}`;

async function fill(catalog: OpenCatalog): Promise<void> {
  const box = new SecretsBox(Buffer.alloc(32, 9));
  await upsertRepository(catalog, box, { name: 'local', url: '/srv/vmbak', credentials: { passphrase: 'x' } });
  for (let h = 0; h < HOSTS; h++) {
    const vms: VmInfo[] = [];
    for (let i = h; i < vmCount; i += HOSTS) {
      vms.push({ uuid: uuidOf(i), name: nameOf(i), state: 'running', host: `host${h}`, tags: i % 3 ? ['prod'] : [],
        disks: [{ target: 'vda', device: 'disk', path: `/var/lib/libvirt/images/${nameOf(i)}.qcow2`, format: 'qcow2', sizeBytes: 20 * 2 ** 30, skipReason: null, unsupportedReason: null, changedBlockTracking: true }] });
    }
    await syncHostVms(catalog, `host${h}`, vms);
  }
  const policies = Math.ceil(vmCount / VMS_PER_POLICY);
  for (let p = 0; p < policies; p++) {
    await upsertPolicy(catalog, { name: `p${p}`, spec: { vms: [`vm${String(p).padStart(3, '0')}??`], repositories: ['local'], schedule: '0 2 * * *', rpo: '26h', retention: { keepDaily: 365 } } });
  }
  await assignVmPolicies(catalog, new Map(Array.from({ length: vmCount }, (_, i) => [uuidOf(i), `p${Math.floor(i / VMS_PER_POLICY)}`])));
  for (let d = 0; d < days; d++) {
    const dayMs = startMs + d * DAY_MS;
    const backups: BackupInput[] = [];
    for (let i = 0; i < vmCount; i++) {
      backups.push({
        repository: 'local', backupId: `b${d.toString(36)}-${i.toString(36)}`, vmKey: uuidOf(i), vmUuid: uuidOf(i), vmName: nameOf(i),
        host: `host${i % HOSTS}`, timeMs: dayMs + (i % 3600) * 1000, logicalBytes: 20 * 2 ** 30, newBytes: 300 * 2 ** 20,
        storedBytes: 120 * 2 ** 20, consistency: 'filesystem', incremental: d > 0,
      });
    }
    await recordBackups(catalog, backups);
    await fillJobs(catalog, d, dayMs, policies);
    if (d % 30 === 29) process.stderr.write(`  filled ${d + 1} of ${days} days\n`);
  }
  // A few verify failures, so "newest good backup" differs from "newest backup" for some VMs.
  for (let i = 7; i < vmCount; i += 10) await setVerifyState(catalog, 'local', `b${(days - 1).toString(36)}-${i.toString(36)}`, 'failed');
}

/** One job per policy per day, with its per-VM results: what the scheduler would have written. */
async function fillJobs(catalog: OpenCatalog, d: number, dayMs: number, policies: number): Promise<void> {
  await catalog.db.transaction().execute(async (trx) => {
    const jobs = Array.from({ length: policies }, (_, p) => ({
      id: `j${dayMs.toString(36).padStart(9, '0')}${p.toString(16).padStart(8, '0')}`, kind: 'backup', policy: `p${p}`,
      state: (d + p) % 97 === 0 ? 'warning' : 'succeeded', trigger: 'schedule', host: null, params_json: '{}', created_ms: dayMs,
      started_ms: dayMs, finished_ms: dayMs + 3_600_000, bytes_read: 100 * 300 * 2 ** 20, bytes_written: 100 * 120 * 2 ** 20, error: null,
    }));
    await trx.insertInto('jobs').values(jobs).execute();
    const rows = [];
    for (let i = 0; i < vmCount; i++) {
      const job = jobs[Math.floor(i / VMS_PER_POLICY)]!;
      rows.push({
        job_id: job.id, vm_key: uuidOf(i), vm_name: nameOf(i), state: 'succeeded', repository: 'local',
        backup_id: `b${d.toString(36)}-${i.toString(36)}`, started_ms: dayMs, finished_ms: dayMs + 60_000,
        bytes_read: 300 * 2 ** 20, bytes_written: 120 * 2 ** 20, error: null,
      });
    }
    for (let i = 0; i < rows.length; i += 500) await trx.insertInto('job_vms').values(rows.slice(i, i + 500)).execute();
  });
}

async function time(label: string, runs: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  await fn(0); // warm the statement cache and the pages once
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn(i);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const pct = (p: number) => ms[Math.min(ms.length - 1, Math.floor((p / 100) * ms.length))]!.toFixed(2);
  console.log(`${label.padEnd(44)} p50 ${pct(50).padStart(8)} ms   p99 ${pct(99).padStart(8)} ms   (${runs} runs)`);
}

const fresh = !existsSync(file);
const catalog = await openCatalog(file);
try {
  if (fresh) {
    console.log(`filling ${file}: ${vmCount} VMs, ${days} days of daily backups …`);
    const t0 = performance.now();
    await fill(catalog);
    console.log(`filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(catalog.db);
  const counts = await sql<{ backups: number; jobs: number; job_vms: number }>`select (select count(*) from backups) as backups, (select count(*) from jobs) as jobs, (select count(*) from job_vms) as job_vms`.execute(catalog.db);
  const c = counts.rows[0]!;
  console.log(`catalog: ${formatBytes(statSync(file).size)} — ${c.backups} backups, ${c.jobs} jobs, ${c.job_vms} per-VM results`);

  let seed = 12345;
  const randomVm = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % vmCount; };
  await time('one VM’s backups (by name, page of 50)', 300, () => listBackups(catalog, { vm: nameOf(randomVm()), limit: 50 }));
  await time('one VM’s backups (by UUID, page of 50)', 300, () => listBackups(catalog, { vm: uuidOf(randomVm()), limit: 50 }));
  const summary = await summarizeProtection(catalog, nowMs);
  console.log(`dashboard: ${summary.vms} VMs, ${summary.protectedVms} protected, RPO met ${summary.rpoMet}, missed ${summary.rpoMissed}`);
  await time('dashboard summary (all VMs, RPO 26 h)', 100, () => summarizeProtection(catalog, nowMs));
  await time('job history page (50 jobs + VM counts)', 300, async () => {
    const page = await listJobs(catalog, { limit: 50 });
    await countJobVms(catalog, page.items.map((j) => j.id));
  });
  await time('job history, one policy (50 jobs)', 300, (i) => listJobs(catalog, { limit: 50, policy: `p${i % 100}` }));
} finally {
  await catalog.close();
  if (dir && !args.keep) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${file}`);
}
