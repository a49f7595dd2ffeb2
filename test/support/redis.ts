// Starts a throwaway Redis for tests on a free loopback port, configured as vmbak's docs ask
// of a production one: append-only file on (a restart keeps every queued job), `noeviction`
// (Redis refuses writes when full rather than silently dropping jobs) and an ACL file (the
// agents' users outlive a restart). Its data lives in a temp directory; `restart()` stops it
// and starts it again on the same data.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort, stopProcess, waitForPort } from './free-port.ts';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** The running server's pid (changes at each restart). */
  readonly pid: number;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Why Redis tests cannot run here, or null; under CI=true a missing Redis is a failure. */
export function redisUnavailable(): string | null {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return null;
  } catch {
    const why = 'redis-server is not installed (Debian package redis-server; scripts/install-system-deps.sh installs it)';
    if (process.env.CI === 'true') throw new Error(why);
    return why;
  }
}

export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'vmbak-redis-'));
  const port = await findFreePort();
  writeFileSync(join(dir, 'users.acl'), '');
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn('redis-server', [
      '--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'yes',
      '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction', '--aclfile', join(dir, 'users.acl'), '--daemonize', 'no',
    ], { stdio: 'ignore' });
    await waitForPort(port, 15_000, child);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() { return (child as ChildProcess | null)?.pid ?? 0; },
    async restart() {
      if (child) await stopProcess(child);
      await start();
    },
    async close() {
      if (child) await stopProcess(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
