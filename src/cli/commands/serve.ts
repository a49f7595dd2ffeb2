// vmbak serve: the controller as a service — the REST API, the scheduler and (unless
// --no-local-agent) a local agent running jobs on this host, logging JSON lines to stdout.
// The API listens at once but /api/v1/health answers 503 until the start-up sweep of what a
// killed predecessor left is done. SIGTERM or SIGINT: running jobs are aborted cleanly, the
// hypervisor is left clean, then the process exits 0.

import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VmbakError, packageRoot } from '../../core/index.ts';
import { stopOnSignals } from '../service-lifetime.ts';

interface ServeOptions {
  dataDir: string;
  listen: string;
  config?: string;
  secretsKey?: string;
  streams: number;
  maxWritersPerRepo: number;
  jobHistoryDays: number;
  localAgent: boolean;
  connect?: string;
  tlsCert?: string;
  tlsKey?: string;
  rebuildCatalog?: boolean;
  catalog?: string;
  redis?: string;
  consoleDir: string;
}

const BUILT_CONSOLE_DIR = join(packageRoot(), 'dist', 'web');

export function registerServeCommand(program: Command): void {
  program.command('serve')
    .description('run the controller: REST API, scheduler, retention, alerts, and a local agent')
    .option('--data-dir <dir>', 'catalog, secrets key and run records', '/var/lib/vmbak')
    .option('--listen <host:port>', 'where the API listens', '127.0.0.1:8470')
    .option('--config <file>', 'declarative config (repositories, policies, alerts); applied at start')
    .option('--redis <url>', 'redis://… for agents on the hosts (`vmbak agent`): jobs go to their queues (with --no-local-agent)')
    .option('--catalog <url>', 'a postgres:// URL: the catalog on PostgreSQL, shared by controllers (default: SQLite in DATA_DIR)')
    .option('--secrets-key <file>', 'key file for stored credentials (default: DATA_DIR/secrets.key)')
    .option('--streams <n>', 'VM backups at once on this host', parseStreams, 2)
    .option('--max-writers-per-repo <n>', 'backup jobs writing to one repository at once; more wait queued', parseMaxWriters, 4)
    .option('--job-history-days <n>', 'finished jobs (with their logs) are kept this many days', parseHistoryDays, 180)
    .option('--no-local-agent', 'only schedule and serve; agents on the hosts run the jobs')
    .option('--connect <uri>', 'libvirt URI of the local agent (default: qemu:///system)')
    .option('--tls-cert <file>', 'serve the API over HTTPS with this certificate (PEM)')
    .option('--tls-key <file>', 'and this key (PEM)')
    .option('--rebuild-catalog', 'rebuild the list of backups from the repositories before serving')
    .option('--console-dir <dir>', 'the built web console served at / (npm run build makes it)', BUILT_CONSOLE_DIR)
    .action(async (opts: ServeOptions) => {
      // Loaded here, not at the top: every other command (an unchanged-image backup takes well
      // under a second) would otherwise pay ~0.2 s loading fastify, pino and the controller.
      const [{ default: pino }, { Controller }, { createApiServer, listenApiServer, isConsoleBuilt, REDACTED_LOG_PATHS }] = await Promise.all([
        import('pino'), import('../../controller/index.ts'), import('../../server/index.ts'),
      ]);
      if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) throw new VmbakError('USAGE', { detail: '--tls-cert and --tls-key go together' });
      const { host, port } = parseListen(opts.listen);
      const log = pino({ base: { service: 'vmbak' }, redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' } });
      const controller = await Controller.open({
        dataDir: opts.dataDir, catalog: opts.catalog, redis: opts.redis, configFile: opts.config, secretsKeyFile: opts.secretsKey, localAgent: opts.localAgent,
        streams: opts.streams, maxWritersPerRepository: opts.maxWritersPerRepo, jobHistoryDays: opts.jobHistoryDays, connect: opts.connect, log,
      });
      const tls = opts.tlsCert ? { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey!) } : undefined;
      const app = createApiServer({ controller, logger: { stream: process.stdout }, tls, consoleDir: opts.consoleDir });
      if (!isConsoleBuilt(opts.consoleDir)) log.warn({ consoleDir: opts.consoleDir }, 'no web console there (npm run build makes it): serving the API alone');
      stopOnSignals(log, async (signal) => {
        await app.close();
        await controller.stop(`vmbak serve got ${signal}`);
      });
      const url = await listenApiServer(app, { host, port, tls: tls !== undefined });
      log.info({ url }, `API at ${url}/api/v1`);
      if (opts.rebuildCatalog) {
        const r = await controller.rebuildBackups();
        log.info(r, `catalog rebuilt from the repositories: ${r.added} backup(s) added, ${r.removed} removed`);
      }
      await controller.start();
      await new Promise(() => {}); // serves until a signal
    });
}

export function parseStreams(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new VmbakError('USAGE', { detail: `--streams ${value}: give a whole number from 1 to 64` });
  return n;
}

function parseMaxWriters(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new VmbakError('USAGE', { detail: `--max-writers-per-repo ${value}: give a whole number from 1 to 1000` });
  return n;
}

function parseListen(value: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value);
  const port = Number(m?.[2]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new VmbakError('USAGE', { detail: `--listen ${value}: give HOST:PORT, such as 127.0.0.1:8470` });
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

function parseHistoryDays(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 36_500) throw new VmbakError('USAGE', { detail: `--job-history-days ${value}: give a whole number of days from 1 to 36500` });
  return n;
}
