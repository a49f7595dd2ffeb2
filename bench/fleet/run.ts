// One fleet run: N simulated hosts with M paused VMs each, the controller, Redis, PostgreSQL
// and an agent per host; a policy fires every few seconds for the run's duration. Optional
// trouble on the way: one agent killed (-9) in the middle of a backup and started again,
// Redis restarted while a job runs, a VM moved to another host. At the end: every VM's latest
// backup restored and compared, leftovers looked for everywhere, then everything stopped by pid.

import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../../test/support/processes.ts';
import { startSimulatedHost, type SimulatedHost } from './hosts.ts';
import { createFleetVm, migrateVm, type FleetVm } from './vms.ts';
import { startStack, type Stack } from './stack.ts';
import { hostLeftovers, repositoryLeftovers, verifyLatestRestore } from './checks.ts';
import { isActive, listJobs, lostAndDuplicated, tallyByHost, type HostTally } from './jobs.ts';

export interface FleetOptions {
  readonly hosts: number;
  readonly vmsPerHost: number;
  readonly durationSeconds: number;
  readonly everySeconds: number;
  readonly killAgent: boolean;
  readonly restartRedis: boolean;
  readonly migrateVm: boolean;
  readonly diskBytes: number;
  readonly filledBytes: number;
  readonly streams: number;
  readonly log: (line: string) => void;
  /** Ctrl-C: the run stops at its next check and still tears everything down. */
  readonly signal?: AbortSignal;
}

export interface FleetReport {
  ok: boolean;
  hosts: Record<string, HostTally>;
  vms: Record<string, { host: string; backups: number; restoreVerified: boolean; detail: string }>;
  leftovers: string[];
  heldForGrace: unknown;
  killedAgent: { host: string; jobId: string; pid: number; atSeconds: number; jobState: string } | null;
  redisRestart: { jobId: string; host: string | null; atSeconds: number; jobState: string } | null;
  migrated: { vm: string; from: string; to: string; backupOnNewHost: string | null; bitmapsRemoved: string | null; jobsThatFoundItGone: string[] } | null;
  /** Jobs that did not succeed: id, host, error. */
  failures: string[];
  lost: string[];
  /** Firings skipped on a host whose previous run of the policy had not finished. */
  skipped: string[];
  duplicated: string[];
  seconds: { setup: number; run: number; verify: number; teardown: number };
}

export const DEFAULT_FLEET: Omit<FleetOptions, 'hosts' | 'vmsPerHost' | 'durationSeconds' | 'log'> = {
  everySeconds: 30, killAgent: false, restartRedis: false, migrateVm: false, diskBytes: 64 << 20, filledBytes: 24 << 20, streams: 2,
};

const since = (t0: number) => Math.round((Date.now() - t0) / 100) / 10;

export async function runFleet(opts: FleetOptions): Promise<FleetReport> {
  const root = mkdtempSync('/tmp/vf-');
  chmodSync(root, 0o755);
  const hosts: SimulatedHost[] = [];
  let stack: Stack | null = null;
  const t0 = Date.now();
  const seconds = { setup: 0, run: 0, verify: 0, teardown: 0 };
  try {
    // Hosts start side by side; hosts.push as each comes up, so teardown finds every one started.
    await Promise.all(Array.from({ length: opts.hosts }, async (_, h) => { hosts.push(await startSimulatedHost(`sim${h}`, join(root, `h${h}`))); }));
    hosts.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
    const vms: FleetVm[] = (await Promise.all(hosts.map(async (host) => {
      const mine: FleetVm[] = [];
      for (let i = 0; i < opts.vmsPerHost; i++) mine.push(await createFleetVm(host, `fleet-${host.name}-${i}`, opts.diskBytes, opts.filledBytes));
      return mine;
    }))).flat();
    opts.log(`${hosts.length} simulated hosts, ${vms.length} VMs defined (${since(t0)} s)`);
    stack = await startStack({ dir: root, streams: opts.streams, agentLockMs: 4000 });
    const heldFile = join(root, 'held');
    const victim = hosts[0]!;
    for (const host of hosts) {
      // The victim's first pack upload is held until the agent is killed: the kill lands mid-backup.
      const faults = opts.killAgent && host === victim
        ? { VMBAK_TEST_FAULTS: JSON.stringify([{ op: 'put', match: 'packs/', nth: 1, action: 'hold', heldFile, releaseFile: join(root, 'never') }]) } : {};
      await stack.startAgent(host, { VMBAK_AGENT_INVENTORY_MS: '3000', ...faults });
    }
    const api = stack.api;
    await waitFor('every VM in the inventory', async () => {
      const listed = (await api<{ items: { name: string; host: string | null }[] }>('GET', '/vms?limit=1000')).items;
      return vms.every((vm) => listed.some((l) => l.name === vm.name && l.host === vm.host));
    }, 60_000);
    await api('POST', '/policies', { name: 'fleet', vms: ['fleet-*'], repositories: ['local'], schedule: `*/${opts.everySeconds} * * * * *` });
    seconds.setup = since(t0);
    opts.log(`controller, Redis, PostgreSQL, ${hosts.length} agents up; policy every ${opts.everySeconds} s for ${opts.durationSeconds} s (${seconds.setup} s)`);

    const tRun = Date.now();
    const report = await exercise(opts, stack, hosts, vms, heldFile, tRun);
    await api('DELETE', '/policies/fleet');
    await waitFor('the last jobs to finish', async () => { opts.signal?.throwIfAborted(); return !(await listJobs(api)).some(isActive); }, 300_000);
    seconds.run = since(tRun);

    const tVerify = Date.now();
    const jobs = await listJobs(api);
    const { hosts: tally, runs, details } = await tallyByHost(api, jobs);
    const { lost, duplicated, skipped } = lostAndDuplicated(jobs, runs, hosts.map((h) => h.name), new Set(report.killedAgent ? [report.killedAgent.jobId] : []), details);
    if (report.killedAgent) report.killedAgent.jobState = jobs.find((j) => j.id === report.killedAgent!.jobId)?.state ?? 'missing';
    if (report.redisRestart) report.redisRestart.jobState = jobs.find((j) => j.id === report.redisRestart!.jobId)?.state ?? 'missing';
    if (report.migrated) {
      // Its first backup on the new host: jobs come newest first, so the last line that names it.
      const line = [...details.values()].filter((d) => d.job.host === report.migrated!.to).flatMap((d) => d.events.map((e) => e.message))
        .filter((m) => m.startsWith(`${report.migrated!.vm}: backup `)).at(-1);
      report.migrated.backupOnNewHost = line ?? null;
      report.migrated.bitmapsRemoved = [...details.values()].filter((d) => d.job.host === report.migrated!.to).flatMap((d) => d.events.map((e) => e.message))
        .find((m) => m.startsWith('removed dirty bitmaps')) ?? null;
    }
    const vmReport: FleetReport['vms'] = {};
    // Two restores at a time: each is a vmbak process of its own, and this machine has two cores.
    let next = 0;
    await Promise.all([0, 1].map(async () => {
      while (next < vms.length) {
        const vm = vms[next++]!;
        const backups = (await api<{ total: number }>('GET', `/backups?vm=${vm.name}&limit=1`)).total;
        const check = backups > 0 ? await verifyLatestRestore(stack!.repo, vm, root) : { verified: false, detail: 'no backup' };
        vmReport[vm.name] = { host: vm.host, backups, restoreVerified: check.verified, detail: check.detail };
      }
    }));
    const leftovers: string[] = jobs.filter(isActive).map((j) => `job ${j.id} still ${j.state}`);
    for (const found of await Promise.all(hosts.map((host) => hostLeftovers(host, vms)))) leftovers.push(...found);
    const gc = await repositoryLeftovers(stack.repo);
    leftovers.push(...gc.leftovers);
    seconds.verify = since(tVerify);
    // A firing placed by the inventory just before the move runs on the old host and finds the VM gone: a warning
    // the move explains (the new host backs it up at the next firing), reported with the move, not as a failure.
    const movedUuid = report.migrated ? vms.find((v) => v.name === report.migrated!.vm)!.uuid : null;
    const explainedByMove = (j: typeof jobs[number]) => movedUuid !== null && j.state === 'warning' && j.error === `no VM matches ${movedUuid}`;
    if (report.migrated) report.migrated.jobsThatFoundItGone = jobs.filter(explainedByMove).map((j) => `${j.id} on ${j.host}: ${j.error}`);
    const failures = jobs.filter((j) => !isActive(j) && j.state !== 'succeeded' && !explainedByMove(j)).map((j) => {
      const vmErrors = (details.get(j.id)?.vms ?? []).filter((v) => v.error).map((v) => `${v.vmName}: ${v.error}`);
      return `${j.kind} job ${j.id} on ${j.host}: ${j.state}: ${j.error ?? ''}${vmErrors.length ? ` [${vmErrors.join('; ')}]` : ''}`;
    });
    const ok = Object.values(vmReport).every((v) => v.restoreVerified) && leftovers.length === 0 && lost.length === 0 && duplicated.length === 0 && failures.length === 0
      && (!opts.killAgent || report.killedAgent?.jobState === 'succeeded');
    return { ok, hosts: tally, vms: vmReport, leftovers, heldForGrace: gc.heldForGrace, failures, lost, duplicated, skipped, seconds, ...report };
  } finally {
    const tDown = Date.now();
    await stack?.stop().catch((err: unknown) => opts.log(`stopping the stack: ${String(err)}`));
    await Promise.all(hosts.map((host) => host.stop().catch((err: unknown) => opts.log(`stopping ${host.name}: ${String(err)}`))));
    rmSync(root, { recursive: true, force: true });
    seconds.teardown = since(tDown);
  }
}

type Trouble = Pick<FleetReport, 'killedAgent' | 'redisRestart' | 'migrated'>;

/** The run itself: firings for the duration, with the asked-for trouble on the way. */
async function exercise(opts: FleetOptions, stack: Stack, hosts: SimulatedHost[], vms: FleetVm[], heldFile: string, tRun: number): Promise<Trouble> {
  const out: Trouble = { killedAgent: null, redisRestart: null, migrated: null };
  const api = stack.api;
  const end = tRun + opts.durationSeconds * 1000;
  let needKill = opts.killAgent;
  let needRedis = opts.restartRedis;
  let needMigrate = opts.migrateVm && hosts.length > 1;
  while (Date.now() < end || needKill || needRedis || needMigrate) {
    if (Date.now() > end + 180_000) throw new Error('the trouble asked for did not happen within 3 minutes after the run');
    await new Promise((r) => setTimeout(r, 250));
    opts.signal?.throwIfAborted();
    const jobs = await listJobs(api);
    const victim = hosts[0]!;
    if (needKill && existsSync(heldFile)) {
      const job = jobs.find((j) => j.state === 'running' && j.host === victim.name);
      if (!job) continue;
      const agent = stack.agents.get(victim.name)!;
      agent.child.kill('SIGKILL');
      await agent.exited;
      out.killedAgent = { host: victim.name, jobId: job.id, pid: agent.child.pid!, atSeconds: since(tRun), jobState: '' };
      opts.log(`killed agent ${victim.name} (pid ${agent.child.pid}) in the middle of job ${job.id}`);
      await stack.startAgent(victim, { VMBAK_AGENT_INVENTORY_MS: '3000' });
      needKill = false;
      continue;
    }
    // Redis restarts while a job runs on another host than the killed agent's (after the kill, when there is one).
    if (needRedis && !needKill) {
      const job = jobs.find((j) => j.state === 'running' && j.host !== null && j.id !== out.killedAgent?.jobId);
      if (!job) continue;
      await stack.redis.restart();
      out.redisRestart = { jobId: job.id, host: job.host, atSeconds: since(tRun), jobState: '' };
      opts.log(`restarted Redis while job ${job.id} ran on ${job.host}`);
      needRedis = false;
      continue;
    }
    if (needMigrate && !needKill) {
      const vm = vms.find((v) => v.host === victim.name)!;
      const backups = (await api<{ total: number }>('GET', `/backups?vm=${vm.name}&limit=1`)).total;
      if (backups === 0 || jobs.some((j) => isActive(j) && j.host === victim.name)) continue;
      const to = hosts[1]!;
      await migrateVm(vm, victim, to);
      await waitFor(`${vm.name} on ${to.name} in the inventory`, async () => (await api<{ items: { host: string | null }[] }>('GET', `/vms?vm=${vm.name}`)).items[0]?.host === to.name, 30_000);
      out.migrated = { vm: vm.name, from: victim.name, to: to.name, backupOnNewHost: null, bitmapsRemoved: null, jobsThatFoundItGone: [] };
      opts.log(`moved ${vm.name} from ${victim.name} to ${to.name}`);
      needMigrate = false;
    }
  }
  // A moved VM needs a backup on its new host before the run ends.
  if (out.migrated) {
    const { vm, to } = out.migrated;
    await waitFor(`a backup of ${vm} on ${to}`, async () => {
      const jobs = await listJobs(api);
      return jobs.some((j) => j.host === to && !isActive(j) && (j.params.vms ?? []).some((k) => k === vms.find((v) => v.name === vm)!.uuid));
    }, 120_000);
  }
  return out;
}
