// One SSH connection with its SFTP channel, and promise-returning wrappers for the SFTP
// calls the target uses. The host key is checked against vmbak's known-hosts file before
// authentication; keepalives turn a server that went silent into a closed connection, so
// every pending request fails instead of hanging.

import { Client, type SFTPWrapper, type Stats, type FileEntryWithStats } from 'ssh2';
import { VmbakError } from '../core/index.ts';
import { checkHostKey } from './known-hosts.ts';
import { sshCredentials } from './ssh-auth.ts';
import { mapSftpError } from './sftp-errors.ts';
import type { TargetOptions } from './target-options.ts';

/** How long close() lets the server acknowledge the disconnect before dropping the socket. */
const CLOSE_GRACE_MS = 2_000;

export interface SftpEndpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string | null;
  readonly displayUrl: string;
}

export class SftpSession {
  readonly sftp: SFTPWrapper;
  private readonly client: Client;
  closed = false;
  /** Why the connection ended, when it ended on its own (not by close()). */
  lostReason: string | null = null;
  busy = 0;

  /** Rejecters of requests in flight: ssh2 does not fail them when the connection drops. */
  private readonly pending = new Set<(err: Error) => void>();

  private constructor(client: Client, sftp: SFTPWrapper) {
    this.client = client;
    this.sftp = sftp;
    // Many small request/response pairs: Nagle plus delayed ACKs would add ~40 ms to each.
    client.setNoDelay(true);
    const markClosed = (err?: unknown): void => {
      if (!this.closed) this.lostReason = err instanceof Error ? err.message : 'closed by the server';
      this.closed = true;
      const lost = new Error('connection lost');
      for (const reject of [...this.pending]) reject(lost);
      this.pending.clear();
    };
    client.on('close', () => markClosed());
    client.on('end', () => markClosed());
    client.on('error', markClosed);
    sftp.on('close', () => markClosed());
  }

  static async connect(ep: SftpEndpoint, options: TargetOptions): Promise<SftpSession> {
    const creds = sshCredentials(ep.displayUrl, options.env);
    const client = new Client();
    let hostKeyError: VmbakError | null = null;
    const keepaliveMs = Math.max(1000, Math.floor(options.timeoutMs / 3));
    return await new Promise<SftpSession>((resolve, reject) => {
      const fail = (err: unknown): void => {
        client.destroy();
        reject(hostKeyError ?? mapSftpError(ep.displayUrl, 'connect', '', err));
      };
      // ssh2 reports a connection the server closes after its banner (during key exchange or
      // login) only as 'close', and clears its readyTimeout then: without this the promise
      // would never settle.
      const closedEarly = (): void => fail(new VmbakError('TARGET_UNREACHABLE', { target: ep.displayUrl, detail: 'the server closed the connection during login' }));
      // 'on', not 'once': ssh2 may report a second error (e.g. 'Connection lost before
      // handshake' after the socket it timed out is destroyed), which must not go unheard.
      client.on('error', fail);
      client.once('close', closedEarly);
      client.once('ready', () => {
        client.sftp((err, sftp) => {
          if (err) return fail(err);
          client.removeListener('error', fail);
          client.removeListener('close', closedEarly);
          resolve(new SftpSession(client, sftp));
        });
      });
      client.connect({
        host: ep.host,
        port: ep.port,
        username: ep.user ?? process.env.USER ?? 'root',
        ...creds,
        readyTimeout: options.connectTimeoutMs,
        keepaliveInterval: keepaliveMs,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          const check = checkHostKey(ep.host, ep.port, key);
          if (check.status !== 'changed') return true;
          hostKeyError = new VmbakError('TARGET_DENIED', {
            target: ep.displayUrl,
            detail: `the server's ${check.knownType} host key differs from the one pinned in ${check.file}; if the change is expected, remove the old line there`,
          });
          return false;
        },
      });
    });
  }

  /** Ends the connection politely, and for sure: a server that no longer answers would keep a
   *  half-closed socket (and so the process) alive forever. */
  close(): void {
    this.closed = true;
    this.client.end();
    // ssh2's destroy() does nothing once end() has made the socket unwritable: drop the socket itself.
    const force = setTimeout(() => (this.client as unknown as { _sock?: { destroy(): void } })._sock?.destroy(), CLOSE_GRACE_MS);
    force.unref(); // fires only while something (such as that socket) keeps the process alive
    this.client.once('close', () => clearTimeout(force));
  }

  hasExtension(name: string): boolean {
    // ssh2 keeps what the server announced in the version packet here.
    const exts = (this.sftp as unknown as { _extensions?: Record<string, string> })._extensions ?? {};
    return name in exts;
  }

  call<T>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    if (this.closed) return Promise.reject(new Error('connection lost'));
    return new Promise<T>((resolve, reject) => {
      const settle = (err: Error | null | undefined, value?: T): void => {
        if (!this.pending.delete(rejectNow)) return;
        if (err) reject(err);
        else resolve(value as T);
      };
      const rejectNow = (err: Error): void => settle(err);
      this.pending.add(rejectNow);
      try {
        fn(settle);
      } catch (err) {
        settle(err as Error);
      }
    });
  }

  open(path: string, flags: string): Promise<Buffer> { return this.call((cb) => this.sftp.open(path, flags as never, 0o644, cb as never)); }
  closeHandle(handle: Buffer): Promise<void> { return this.call((cb) => this.sftp.close(handle, cb)); }
  fstat(handle: Buffer): Promise<Stats> { return this.call((cb) => this.sftp.fstat(handle, cb)); }
  stat(path: string): Promise<Stats> { return this.call((cb) => this.sftp.stat(path, cb)); }
  unlink(path: string): Promise<void> { return this.call((cb) => this.sftp.unlink(path, cb)); }
  rename(from: string, to: string): Promise<void> { return this.call((cb) => this.sftp.rename(from, to, cb)); }
  posixRename(from: string, to: string): Promise<void> { return this.call((cb) => this.sftp.ext_openssh_rename(from, to, cb)); }
  hardlink(from: string, to: string): Promise<void> { return this.call((cb) => this.sftp.ext_openssh_hardlink(from, to, cb)); }
  fsync(handle: Buffer): Promise<void> { return this.call((cb) => this.sftp.ext_openssh_fsync(handle, cb)); }
  mkdir(path: string): Promise<void> { return this.call((cb) => this.sftp.mkdir(path, cb)); }
  readdir(path: string): Promise<FileEntryWithStats[]> { return this.call((cb) => this.sftp.readdir(path, cb)); }
  realpath(path: string): Promise<string> { return this.call((cb) => this.sftp.realpath(path, cb)); }
  freeBytes(path: string): Promise<number> {
    return this.space(path).then((v) => v.freeBytes);
  }
  space(path: string): Promise<{ totalBytes: number; freeBytes: number }> {
    type Vfs = { f_bavail: number | bigint; f_blocks: number | bigint; f_frsize: number | bigint };
    const loose = this.sftp as unknown as { ext_openssh_statvfs(p: string, cb: (err: Error | undefined, v: Vfs) => void): void };
    return this.call<Vfs>((cb) => loose.ext_openssh_statvfs(path, cb as never))
      .then((v) => ({ totalBytes: Number(v.f_blocks) * Number(v.f_frsize), freeBytes: Number(v.f_bavail) * Number(v.f_frsize) }));
  }
  write(handle: Buffer, data: Buffer, offset: number): Promise<void> {
    return this.call((cb) => this.sftp.write(handle, data, 0, data.length, offset, cb as never));
  }
  read(handle: Buffer, into: Buffer, at: number, length: number, position: number): Promise<number> {
    return this.call((cb) => this.sftp.read(handle, into, at, length, position, cb as never));
  }
}
