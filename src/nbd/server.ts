// vmbak's NBD server: serves read-only exports (NbdExport) over a unix socket or TCP to any
// number of clients, each connection with any number of requests in flight. It knows
// nothing of where the data comes from; the engine gives it the disks of a backup. With a
// TLS certificate, clients must upgrade with NBD_OPT_STARTTLS before anything else.

import net from 'node:net';
import tls from 'node:tls';
import { lstat, rm } from 'node:fs/promises';
import { VmbakError, describeError } from '../core/index.ts';
import type { NbdExport, NbdRequestFailure } from './export.ts';
import { negotiateWithClient, type ExportCatalog } from './server-handshake.ts';
import { ServerSession } from './server-session.ts';
import { ServerWire } from './server-wire.ts';

export type NbdListenAddress = { readonly path: string } | { readonly host: string; readonly port: number };

export interface NbdServerOptions {
  /** The first is also the default export (the empty name). Names must differ. */
  readonly exports: readonly NbdExport[];
  /** Called for every request that failed (answered EIO), e.g. to log a damaged chunk. */
  readonly onFailure?: (failure: NbdRequestFailure) => void;
  /** PEM certificate chain and key: when given, TLS is required (NBD_OPT_STARTTLS). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  readonly handshakeTimeoutMs?: number;
}

const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;
/** How long a client may keep a connection open after the server ended it. */
const CLOSE_TIMEOUT_MS = 5_000;

export class NbdServer {
  private readonly catalog: ExportCatalog;
  private readonly onFailure: (failure: NbdRequestFailure) => void;
  private readonly tlsContext: tls.SecureContext | null;
  private readonly handshakeTimeoutMs: number;
  private readonly wires = new Set<ServerWire>();
  private readonly server: net.Server;
  private socketPath: string | null = null;

  constructor(opts: NbdServerOptions) {
    if (opts.exports.length === 0) throw new VmbakError('INTERNAL', { detail: 'an NBD server needs at least one export' });
    const byName = new Map(opts.exports.map((e) => [e.name, e]));
    if (byName.size !== opts.exports.length) throw new VmbakError('INTERNAL', { detail: 'two NBD exports have the same name' });
    this.catalog = {
      find: (name) => (name === '' ? opts.exports[0] : byName.get(name)),
      list: () => opts.exports,
    };
    this.onFailure = opts.onFailure ?? (() => {});
    this.tlsContext = opts.tls ? tls.createSecureContext({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' }) : null;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.server = net.createServer({ noDelay: true }, (socket) => { void this.serve(socket); });
  }

  get connectionCount(): number {
    return this.wires.size;
  }

  /**
   * Starts listening; resolves with the address in use (the real port when 0 was asked).
   * A unix socket left by a process that is gone is replaced; a live one is an error.
   */
  async listen(address: NbdListenAddress): Promise<NbdListenAddress> {
    const label = 'path' in address ? address.path : `${address.host}:${address.port}`;
    try {
      if ('path' in address) await removeStaleSocket(address.path);
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen('path' in address ? { path: address.path } : { host: address.host, port: address.port }, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      throw new VmbakError('NBD_LISTEN_FAILED', { address: label, detail: describeError(err) }, { cause: err });
    }
    if ('path' in address) {
      this.socketPath = address.path;
      return address;
    }
    const bound = this.server.address() as net.AddressInfo;
    return { host: address.host, port: bound.port };
  }

  /** Stops accepting, drops every connection, removes the unix socket. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const wire of this.wires) wire.destroy();
    await closed;
    if (this.socketPath) await rm(this.socketPath, { force: true });
  }

  private async serve(socket: net.Socket): Promise<void> {
    const wire = new ServerWire(socket, this.tlsContext);
    this.wires.add(wire);
    const timer = setTimeout(() => wire.destroy(), this.handshakeTimeoutMs);
    try {
      const session = await negotiateWithClient(wire, this.catalog);
      clearTimeout(timer);
      if (!session) { wire.end(); return; }
      await new ServerSession(wire, session, this.onFailure).run();
    } catch {
      // A client that broke the handshake or went away (HandshakeError, a failed read or TLS
      // handshake): there is nobody to answer, only a connection to close.
      wire.destroy();
    } finally {
      clearTimeout(timer);
      const linger = setTimeout(() => wire.destroy(), CLOSE_TIMEOUT_MS);
      await wire.closed;
      clearTimeout(linger);
      this.wires.delete(wire);
    }
  }
}

/** Removes `path` when it is a unix socket nobody listens on; leaves anything else for listen() to refuse. */
async function removeStaleSocket(path: string): Promise<void> {
  const info = await lstat(path).catch(() => null);
  if (!info?.isSocket()) return;
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path });
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
  if (!live) await rm(path, { force: true });
}
