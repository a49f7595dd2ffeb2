// npm run bench:fleet — what the controller, Redis and PostgreSQL cost per job, and how backup
// throughput grows with agents on this machine:
//   1. 1 000 short jobs across 3 no-op agents (bench/fleet/noop-agent.ts: the agent protocol's
//      calls, no data): jobs/s and the controller's own CPU per job (/proc/PID/stat), Redis's
//      CPU, PostgreSQL's catalog growth per job;
//   2. Redis memory per queued job: INFO used_memory before and after N jobs wait in a queue
//      whose agent takes nothing;
//   3. aggregate backup throughput of 1, 2 and 3 real agents (simulated hosts, one fresh VM
//      each, full reads of random data) into one local repository, with each process's CPU.
// Options: --jobs N (1000), --queued N (1000), --vm-mib N (256). Prints a JSON line last.

import { mkdtempSync, chmodSync, rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import { waitFor } from '../../test/support/processes.ts';
import { startStack, type Stack } from './stack.ts';
import { startNoopAgent, type NoopAgent } from './noop-agent.ts';
import { startSimulatedHost, type SimulatedHost } from './hosts.ts';
import { createFleetVm, type FleetVm } from './vms.ts';
import { listJobs, isActive } from './jobs.ts';
import { loadAverage, machineCpuMs, processCpuMs } from './proc-cpu.ts';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '1000' }, queued: { type: 'string', default: '1000' }, 'vm-mib': { type: 'string', default: '256' } } });
const JOBS = Number(values.jobs);
const QUEUED = Number(values.queued);
const VM_BYTES = Number(values['vm-mib']) << 20;
const log = (s: string) => process.stderr.write(`bench:fleet: ${s}\n`);

async function inParallel<T>(items: readonly T[], width: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => { while (next < items.length) { const i = next++; await fn(items[i]!, i); } }));
}

async function catalogBytes(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try { return Number((await c.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n); } finally { await c.end(); }
}

async function countJobs(stack: Stack, state: string): Promise<number> {
  return (await stack.api<{ total: number }>('GET', `/jobs?state=${state}&limit=1`)).total;
}

async function waitForInventory(stack: Stack, names: readonly string[]): Promise<void> {
  await waitFor('the inventory', async () => {
    const listed = (await stack.api<{ items: { name: string; host: string | null }[] }>('GET', '/vms?limit=1000')).items;
    return names.every((n) => listed.some((l) => l.name === n && l.host));
  }, 60_000);
}

/** 1 000 no-op jobs over 3 agents: jobs/s and the controller's CPU per job. */
async function controllerOverhead(stack: Stack) {
  const agents: NoopAgent[] = [];
  for (let i = 0; i < 3; i++) agents.push(await startNoopAgent(stack.base, stack.agentToken, `noop${i}`));
  for (const a of agents) await a.work(8);
  await waitForInventory(stack, agents.map((a) => a.vmName));
  const pid = stack.controller.child.pid!;
  const [cpu0, redis0, db0, t0] = [processCpuMs(pid), processCpuMs(stack.redis.pid), await catalogBytes(stack.catalogUrl), Date.now()];
  await inParallel(Array.from({ length: JOBS }, (_, i) => agents[i % 3]!), 16, async (a) => {
    await stack.api('POST', '/jobs', { kind: 'backup', vms: [a.vmUuid], repositories: ['local'] });
  });
  const tSubmitted = Date.now();
  await waitFor(`${JOBS} jobs to finish`, async () => (await countJobs(stack, 'succeeded')) + (await countJobs(stack, 'failed')) >= JOBS, 600_000);
  const seconds = (Date.now() - t0) / 1000;
  const controllerCpuMs = processCpuMs(pid) - cpu0;
  const result = {
    jobs: JOBS, failed: await countJobs(stack, 'failed'), seconds: round(seconds), submitSeconds: round((tSubmitted - t0) / 1000), jobsPerSecond: round(JOBS / seconds),
    controllerCpuMsPerJob: round(controllerCpuMs / JOBS), controllerCpuShare: round(controllerCpuMs / (seconds * 1000)),
    redisCpuMsPerJob: round((processCpuMs(stack.redis.pid) - redis0) / JOBS), catalogBytesPerJob: Math.round(((await catalogBytes(stack.catalogUrl)) - db0) / JOBS),
  };
  for (const a of agents) await a.close();
  return result;
}

/** Redis memory per job waiting in a host queue nobody takes from. */
async function redisBytesPerQueuedJob(stack: Stack) {
  const idle = await startNoopAgent(stack.base, stack.agentToken, 'idle');
  await waitForInventory(stack, [idle.vmName]);
  const redis = new Redis(stack.redis.url);
  try {
    const used = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
    const before = await used();
    await inParallel(Array.from({ length: QUEUED }), 16, async () => { await stack.api('POST', '/jobs', { kind: 'backup', vms: [idle.vmUuid], repositories: ['local'] }); });
    await waitFor('the jobs in Redis', async () => (await redis.llen('bull:vmbak-host-idle:wait')) >= QUEUED, 120_000);
    const after = await used();
    return { queued: QUEUED, usedMemoryBefore: before, usedMemoryAfter: after, bytesPerQueuedJob: Math.round((after - before) / QUEUED) };
  } finally {
    redis.disconnect();
    await idle.close();
  }
}

interface Round { agents: number; bytes: number; seconds: number; mbPerSecond: number; machineBusyShare: number; oursShare: number; cpuSeconds: Record<string, number> }

/** 1, 2, 3 real agents backing up one fresh VM each at the same time into one local repository. */
async function throughput(stack: Stack, root: string): Promise<Round[]> {
  const hosts: SimulatedHost[] = [];
  const rounds: Round[] = [];
  try {
    for (let h = 0; h < 3; h++) hosts.push(await startSimulatedHost(`tp${h}`, join(root, `tp${h}`)));
    for (const host of hosts) await stack.startAgent(host, { VMBAK_AGENT_INVENTORY_MS: '2000' });
    for (let k = 1; k <= 3; k++) {
      const vms: FleetVm[] = [];
      for (let h = 0; h < k; h++) vms.push(await createFleetVm(hosts[h]!, `tp-r${k}-${h}`, VM_BYTES, VM_BYTES));
      await waitForInventory(stack, vms.map((v) => v.name));
      const qemuPid = (vm: FleetVm) => Number(readFileSync(join(hosts.find((h) => h.name === vm.host)!.dir, 'run', 'qemu', `${vm.name}.pid`), 'utf8'));
      const pids: Record<string, number> = { controller: stack.controller.child.pid!, redis: stack.redis.pid };
      for (let h = 0; h < k; h++) pids[`agent ${hosts[h]!.name}`] = stack.agents.get(hosts[h]!.name)!.child.pid!;
      for (const vm of vms) pids[`qemu ${vm.name}`] = qemuPid(vm);
      const cpu0 = Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, processCpuMs(p)]));
      const m0 = machineCpuMs();
      const t0 = Date.now();
      const jobs = await Promise.all(vms.map((vm) => stack.api<{ id: string }>('POST', '/jobs', { kind: 'backup', vms: [vm.uuid], repositories: ['local'] })));
      const ids = new Set(jobs.map((j) => j.id));
      await waitFor(`round ${k}`, async () => !(await listJobs(stack.api)).some((j) => ids.has(j.id) && isActive(j)), 600_000);
      const seconds = (Date.now() - t0) / 1000;
      const m1 = machineCpuMs();
      const failed = (await listJobs(stack.api)).filter((j) => ids.has(j.id) && j.state !== 'succeeded');
      if (failed.length > 0) throw new Error(`round ${k}: ${failed.map((j) => `${j.id} ${j.state} ${j.error}`).join('; ')}`);
      const cpuSeconds = Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, round((processCpuMs(p) - cpu0[n]!) / 1000)]));
      const bytes = k * VM_BYTES;
      // machineBusyShare: all cores, everyone's processes; oursShare: this run's processes' part of the machine's CPU time.
      const ours = Object.values(cpuSeconds).reduce((a, b) => a + b, 0);
      rounds.push({
        agents: k, bytes, seconds: round(seconds), mbPerSecond: round(bytes / 1e6 / seconds), machineBusyShare: round((m1.busyMs - m0.busyMs) / (m1.totalMs - m0.totalMs)),
        oursShare: round((ours * 1000) / (m1.totalMs - m0.totalMs)), cpuSeconds,
      });
      log(`${k} agent(s): ${JSON.stringify(rounds.at(-1))}`);
    }
  } finally {
    await Promise.all(hosts.map((h) => h.stop().catch(() => undefined)));
  }
  return rounds;
}

const round = (n: number) => Math.round(n * 100) / 100;

const root = mkdtempSync('/tmp/vfb-');
chmodSync(root, 0o755);
let stack: Stack | null = null;
try {
  log(`load average before: ${loadAverage()}`);
  stack = await startStack({ dir: root, streams: 1, agentLockMs: 30_000, serveArgs: ['--max-writers-per-repo', '1000'] });
  const overhead = await controllerOverhead(stack);
  log(`controller: ${JSON.stringify(overhead)}`);
  const rounds = await throughput(stack, root);
  // Last: the queued jobs it leaves count against the controller's writers per repository.
  const queued = await redisBytesPerQueuedJob(stack);
  log(`redis: ${JSON.stringify(queued)}`);
  const report = { loadAverageAfter: loadAverage(), cores: (await import('node:os')).availableParallelism(), controller: overhead, redis: queued, throughput: rounds };
  process.stdout.write(`${JSON.stringify(report)}\n`);
} finally {
  await stack?.stop().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
}
