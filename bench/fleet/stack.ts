// The servers of a fleet run: Redis (AOF, noeviction, ACL file), PostgreSQL (the catalog), a
// local repository, the controller (`vmbak serve --redis --catalog postgres:// --no-local-agent`)
// and one `vmbak agent` per simulated host. Every process is started here and stopped by its
// pid in `stop()`; nothing is killed by name.

import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { vmbak } from '../../test/support/vmbak-cli.ts';
import { vmbakProcesses, waitFor, type TrackedProcess } from '../../test/support/processes.ts';
import { findFreePort } from '../../test/support/free-port.ts';
import { startRedis, type RedisServer } from '../../test/support/redis.ts';
import { startPostgres, type PostgresServer } from '../../test/support/postgres.ts';
import type { SimulatedHost } from './hosts.ts';

export const PASSPHRASE = 'fleet pass';

export interface StackOptions {
  readonly dir: string;
  readonly streams: number;
  /** How long a dead agent's job waits before BullMQ hands it out again. */
  readonly agentLockMs: number;
  /** More `vmbak serve` options (benchmarks). */
  readonly serveArgs?: readonly string[];
}

export interface Stack {
  readonly redis: RedisServer;
  readonly pg: PostgresServer;
  readonly catalogUrl: string;
  readonly repo: string;
  readonly base: string;
  readonly controller: TrackedProcess;
  readonly agents: Map<string, TrackedProcess>;
  readonly agentToken: string;
  api<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** Starts (or restarts) HOST's agent; env adds e.g. VMBAK_TEST_FAULTS. */
  startAgent(host: SimulatedHost, env?: NodeJS.ProcessEnv): Promise<TrackedProcess>;
  stop(): Promise<void>;
}

function configYaml(repo: string): string {
  return `
repositories:
  - { name: local, url: ${repo}, passphraseFile: repo.pass, care: { verifyNew: false, verifyAll: false, gc: false } }
policies: []
`;
}

/** SIGTERM, and SIGKILL after a grace period, by the child's pid. */
export async function stopTracked(p: TrackedProcess, graceMs = 15_000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const processes = vmbakProcesses();
  const [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
  try {
    return await startControllerOn(opts, processes, redis, pg);
  } catch (err) {
    // Nothing this call started outlives its failure.
    processes.killAll();
    await redis.close();
    await pg.close();
    throw err;
  }
}

async function startControllerOn(opts: StackOptions, processes: ReturnType<typeof vmbakProcesses>, redis: RedisServer, pg: PostgresServer): Promise<Stack> {
  const repo = join(opts.dir, 'repo');
  const dataDir = join(opts.dir, 'controller');
  const catalogUrl = await pg.createDatabase();
  const init = await vmbak(['repo', 'init', '--repo', repo], { VMBAK_PASSPHRASE: PASSPHRASE });
  if (init.code !== 0) throw new Error(`repo init: ${init.stderr}`);
  writeFileSync(join(opts.dir, 'repo.pass'), `${PASSPHRASE}\n`);
  writeFileSync(join(opts.dir, 'vmbak.yaml'), configYaml(repo));
  const token = async (role: string) => {
    const made = await vmbak(['token', 'create', '--data-dir', dataDir, '--catalog', catalogUrl, '--role', role, '--name', `fleet-${role}`]);
    if (made.code !== 0) throw new Error(`token create: ${made.stderr}`);
    return made.stdout.trim().split('\n').at(-1)!;
  };
  const base = `http://127.0.0.1:${await findFreePort()}`;
  const controller = processes.spawn(['serve', '--data-dir', dataDir, '--catalog', catalogUrl, '--config', join(opts.dir, 'vmbak.yaml'),
    '--listen', base.replace('http://', ''), '--no-local-agent', '--redis', redis.url, ...opts.serveArgs ?? []]);
  await waitFor('the controller', async () => {
    if (controller.child.exitCode !== null) throw new Error(`the controller exited: ${controller.output().slice(-2000)}`);
    return (await fetch(`${base}/api/v1/health`).catch(() => null))?.status === 200;
  }, 60_000, controller.output);
  const [admin, agentToken] = [await token('admin'), await token('agent')];
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${base}/api/v1${path}`, {
      method, headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (res.status === 204 ? null : await res.json()) as T;
  };
  const agents = new Map<string, TrackedProcess>();
  return {
    redis, pg, catalogUrl, repo, base, controller, agents, api, agentToken,
    async startAgent(host, env = {}) {
      const agent = processes.spawn(['agent', '--controller', base, '--token', agentToken, '--host-name', host.name, '--connect', host.uri, '--streams', String(opts.streams)], {
        VMBAK_STATE_DIR: host.stateDir, VMBAK_SCRATCH_DIR: host.scratchDir, VMBAK_HOSTNAME: host.name,
        VMBAK_AGENT_LOCK_MS: String(opts.agentLockMs), ...env,
      });
      agents.set(host.name, agent);
      await waitFor(`agent ${host.name}`, async () => agent.output().includes('agent ready') || agent.child.exitCode !== null, 60_000, agent.output);
      if (agent.child.exitCode !== null) throw new Error(`agent ${host.name} exited: ${agent.output().slice(-2000)}`);
      return agent;
    },
    async stop() {
      for (const agent of agents.values()) await stopTracked(agent);
      await stopTracked(controller);
      processes.killAll();
      await redis.close();
      await pg.close();
    },
  };
}
