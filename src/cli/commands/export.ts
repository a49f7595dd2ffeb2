// vmbak export: serve a backup's disks read-only over NBD, straight from the repository, until
// SIGINT/SIGTERM — "restore without restoring": qemu-img, nbdcopy, nbdfuse, guestfish or a VM
// read the disks without a restore first.

import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { VmbakError, describeError, formatBytes } from '../../core/index.ts';
import { NbdServer, type NbdListenAddress, type NbdRequestFailure } from '../../nbd/index.ts';
import { DEFAULT_EXPORT_CACHE_BYTES, openBackupExport, resolveBackupRef } from '../../services/index.ts';
import { openRepository, withRepoOptions, type RepoOptions } from '../context.ts';

interface ExportOptions extends RepoOptions {
  disk?: string;
  socket?: string;
  listen?: string;
  cacheMib: number;
  tlsCert?: string;
  tlsKey?: string;
  json?: boolean;
}

/** The same damaged chunk read again and again is logged once. */
const MAX_LOGGED_FAILURES = 1000;

export function registerExportCommand(program: Command): void {
  withRepoOptions(program.command('export'))
    .description('serve a backup\'s disks read-only over NBD, read straight from the repository, until Ctrl-C')
    .argument('<backup>', 'backup id (or a unique prefix), latest, or VM@latest')
    .option('--disk <name>', 'serve only this disk (default: every disk; the first is also the export named "")')
    .option('--socket <path>', 'listen on this unix socket')
    .option('--listen <host:port>', 'listen on TCP (port 0 picks a free port)')
    .option('--cache-mib <n>', 'memory for decoded chunks, in MiB', cacheMib, DEFAULT_EXPORT_CACHE_BYTES >> 20)
    .option('--tls-cert <file>', 'PEM certificate (chain): clients must use TLS (nbds://)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--json', 'print where it serves as one JSON line')
    .action(async (ref: string, opts: ExportOptions) => {
      const address = listenAddress(opts);
      if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new VmbakError('USAGE', { detail: '--tls-cert and --tls-key go together' });
      const tls = opts.tlsCert && opts.tlsKey ? { cert: await readPem(opts.tlsCert), key: await readPem(opts.tlsKey) } : undefined;
      const stopped = stopSignal();
      const repo = await openRepository(opts);
      try {
        const manifest = await resolveBackupRef(repo, ref);
        const session = await openBackupExport({ repo, backup: manifest, disk: opts.disk ?? null, cacheBytes: opts.cacheMib * 1024 * 1024 });
        const server = new NbdServer({ exports: session.exports, tls, onFailure: failureLogger(manifest.backupId) });
        try {
          const bound = await server.listen(address);
          const uri = (name: string) => exportUri(bound, name, tls !== undefined);
          const exports = session.exports.map((e) => ({ name: e.name, sizeBytes: e.sizeBytes, uri: uri(e.name) }));
          if (opts.json) {
            const where = 'path' in bound ? { socket: bound.path, host: null, port: null } : { socket: null, host: bound.host, port: bound.port };
            process.stdout.write(`${JSON.stringify({ backupId: manifest.backupId, vm: manifest.vm.name, ...where, tls: tls !== undefined, exports })}\n`);
          } else {
            const list = exports.map((e, i) => `${e.name} (${formatBytes(e.sizeBytes)}${i === 0 ? ', default' : ''})`).join(', ');
            process.stdout.write(`serving backup ${manifest.backupId} of ${manifest.vm.name} read-only at ${uri('')}: ${list}; stop with Ctrl-C\n`);
          }
          const why = await Promise.race([stopped.promise, aborted(session.signal)]);
          if (why instanceof Error) throw why;
          if (!opts.json) process.stdout.write(`stopped serving backup ${manifest.backupId} (${why})\n`);
        } finally {
          await server.close();
          await session.close();
        }
      } finally {
        stopped.dispose();
        await repo.target.close();
      }
    });
}

function cacheMib(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1 << 20) throw new VmbakError('USAGE', { detail: `--cache-mib ${value}: give a whole number of MiB, at least 1` });
  return n;
}

function listenAddress(opts: ExportOptions): NbdListenAddress {
  if ((opts.socket === undefined) === (opts.listen === undefined)) throw new VmbakError('USAGE', { detail: 'export needs exactly one of --socket PATH, --listen HOST:PORT' });
  if (opts.socket !== undefined) return { path: opts.socket };
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(opts.listen!);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new VmbakError('USAGE', { detail: `--listen ${opts.listen}: give HOST:PORT, e.g. 127.0.0.1:10809 or [::1]:10809` });
  return { host: m[1] ?? m[2]!, port };
}

async function readPem(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new VmbakError('USAGE', { detail: `cannot read ${path}: ${describeError(err)}` });
  }
}

/** The NBD URI of an export (RFC of the NBD project: nbd[s][+unix]://[host[:port]]/name[?socket=path]). */
function exportUri(bound: NbdListenAddress, name: string, tls: boolean): string {
  const scheme = tls ? 'nbds' : 'nbd';
  if ('path' in bound) return `${scheme}+unix:///${encodeURIComponent(name)}?socket=${bound.path}`;
  const host = bound.host.includes(':') ? `[${bound.host}]` : bound.host;
  return `${scheme}://${host}:${bound.port}/${encodeURIComponent(name)}`;
}

/** Every failed read goes to stderr with the backup, disk and offset; repeats of one failure once. */
function failureLogger(backupId: string): (f: NbdRequestFailure) => void {
  const logged = new Set<string>();
  return (f) => {
    const detail = f.error instanceof Error ? f.error.message : describeError(f.error);
    if (logged.has(detail)) return;
    if (logged.size < MAX_LOGGED_FAILURES) logged.add(detail);
    process.stderr.write(`vmbak: export of ${backupId}: ${f.op} of ${f.lengthBytes} bytes at offset ${f.offsetBytes} of disk ${f.exportName} failed (EIO to the client): ${detail}\n`);
  };
}

/** Resolves with the signal's name on the first SIGINT or SIGTERM. */
function stopSignal(): { promise: Promise<string>; dispose(): void } {
  let onSignal: (signal: NodeJS.Signals) => void = () => {};
  const promise = new Promise<string>((resolve) => { onSignal = (signal) => resolve(signal); });
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return { promise, dispose: () => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); } };
}

/** Rejects-as-value: resolves with the reason once the signal fires. */
function aborted(signal: AbortSignal): Promise<Error> {
  return new Promise((resolve) => {
    const fire = () => resolve(signal.reason instanceof Error ? signal.reason : new VmbakError('INTERNAL', { detail: String(signal.reason) }));
    if (signal.aborted) fire();
    else signal.addEventListener('abort', fire, { once: true });
  });
}
