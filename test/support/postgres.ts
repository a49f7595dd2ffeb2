// Starts a throwaway PostgreSQL server for tests: Debian's postgresql binaries, a fresh
// cluster in a temp directory, listening only on a unix socket there (no TCP port to clash),
// trust authentication, fsync off (the OS still holds every commit, so a test that stops the
// server immediately loses nothing; synchronous_commit stays on for that). Ready in about
// 2 s. PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres`
// account the package creates.
// Each `createDatabase()` is a new empty database, so tests never see each other's rows.

import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface PostgresServer {
  /** A URL of the server's `postgres` database (for admin statements). */
  readonly adminUrl: string;
  /** Creates an empty database; returns its URL. */
  createDatabase(): Promise<string>;
  dropDatabase(url: string): Promise<void>;
  /** Stops the server now (the way a crash or `pg_ctl stop -m immediate` does). */
  stop(): Promise<void>;
  /** Starts it again on the same data directory and socket. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** The directory of Debian's PostgreSQL binaries, or null when the package is not installed. */
export function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(root, versions[0]!, 'bin') : null;
}

/** Why PostgreSQL tests cannot run here, or null when they can. Under CI=true a reason is a failure. */
export function postgresUnavailable(): string | null {
  if (postgresBinDir()) return null;
  const why = 'PostgreSQL is not installed (Debian package postgresql; scripts/install-system-deps.sh installs it)';
  if (process.env.CI === 'true') throw new Error(why);
  return why;
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (Debian package postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'vmbak-pg-'));
  const asRoot = userInfo().uid === 0;
  if (asRoot) chownSync(dir, Number((await run('id', ['-u', 'postgres'])).stdout), Number((await run('id', ['-g', 'postgres'])).stdout));
  const as = (cmd: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : run(join(bin, cmd), args));
  const data = join(dir, 'data');
  const ctl = (action: string, ...extra: string[]) => as('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), ...extra, action]);
  const options = `-k ${dir} -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_connections=200`;
  await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  await ctl('start', '-w', '-o', options);
  const urlOf = (db: string) => `postgresql://postgres@localhost/${db}?host=${encodeURIComponent(dir)}`;
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: urlOf('postgres') });
    await client.connect();
    try { return await fn(client); } finally { await client.end(); }
  };
  let running = true;
  return {
    adminUrl: urlOf('postgres'),
    async createDatabase() {
      const name = `vmbak_${randomBytes(6).toString('hex')}`;
      await admin((c) => c.query(`CREATE DATABASE ${name}`));
      return urlOf(name);
    },
    async dropDatabase(url) {
      const name = new URL(url).pathname.slice(1);
      if (running) await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => {});
    },
    async stop() {
      await ctl('stop', '-m', 'immediate', '-w');
      running = false;
    },
    async restart() {
      await ctl('start', '-w', '-o', options);
      running = true;
    },
    async close() {
      if (running) await ctl('stop', '-m', 'immediate', '-w').catch(() => {});
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
