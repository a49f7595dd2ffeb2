// A repository on an SSH server over SFTP. Atomic put: the bytes go to a temporary name in
// the final directory (written exclusively, fsynced where the server offers fsync@openssh.com),
// then posix-rename@openssh.com replaces the final name in one step. Create-if-absent links
// the temporary file to the final name (hardlink@openssh.com, or plain SFTP rename, which
// OpenSSH implements with link() and so also refuses to replace): the link either appears
// complete or fails because the name is taken. A write failure with free space exhausted
// (statvfs) is TARGET_FULL, and the temp file is removed so nothing partial stays.
// N connections (?connections=N) are opened lazily; each operation takes the least busy.

import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { VmbakError, type ByteRange, type ObjectInfo, type Target, type TargetSpace } from '../core/index.ts';
import { TEMP_MARKER } from './local-target.ts';
import { SftpSession, type SftpEndpoint } from './sftp-session.ts';
import { SFTP_FAILURE, SFTP_NO_SUCH_FILE, mapSftpError, sftpStatus } from './sftp-errors.ts';
import type { TargetOptions } from './target-options.ts';
import { readRemoteFile, writeRemoteFile } from './sftp-transfer.ts';

export interface SftpLocation extends SftpEndpoint {
  /** Absolute, or relative to the login (home) directory. */
  readonly path: string;
}

export class SftpTarget implements Target {
  readonly displayUrl: string;
  private readonly location: SftpLocation;
  private readonly options: TargetOptions;
  private readonly sessions: Array<Promise<SftpSession> | null>;
  private root: string | null = null;

  constructor(location: SftpLocation, options: TargetOptions) {
    this.location = location;
    this.options = options;
    this.displayUrl = location.displayUrl;
    this.sessions = Array.from({ length: options.connections }, () => null);
  }

  async put(name: string, data: Uint8Array): Promise<void> {
    await this.withSession('put', name, async (s) => {
      const tmp = await this.writeTemp(s, name, data);
      try {
        if (s.hasExtension('posix-rename@openssh.com')) {
          await s.posixRename(tmp, this.path(name));
        } else {
          // Plain SFTP rename refuses to replace: remove, then rename (a reader may briefly see none).
          await s.unlink(this.path(name)).catch(() => {});
          await s.rename(tmp, this.path(name));
        }
      } catch (err) {
        await s.unlink(tmp).catch(() => {});
        throw err;
      }
    });
  }

  async create(name: string, data: Uint8Array): Promise<boolean> {
    return await this.withSession('create', name, async (s) => {
      const tmp = await this.writeTemp(s, name, data);
      try {
        if (s.hasExtension('hardlink@openssh.com')) await s.hardlink(tmp, this.path(name));
        else await s.rename(tmp, this.path(name));
        return true;
      } catch (err) {
        if (sftpStatus(err) === SFTP_FAILURE && (await s.stat(this.path(name)).then(() => true, () => false))) return false;
        throw err;
      } finally {
        await s.unlink(tmp).catch(() => {});
      }
    });
  }

  async get(name: string, range?: ByteRange): Promise<Buffer> {
    return await this.withSession('get', name, async (s) => {
      try {
        return await readRemoteFile(s, this.path(name), range, this.displayUrl, name);
      } catch (err) {
        if (sftpStatus(err) === SFTP_NO_SUCH_FILE) throw new VmbakError('OBJECT_MISSING', { object: name, target: this.displayUrl });
        throw err;
      }
    });
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    return await this.withSession('list', prefix || '/', async (s) => {
      const out: ObjectInfo[] = [];
      const startDir = prefix === '' || prefix.endsWith('/') ? prefix : posix.dirname(prefix) === '.' ? '' : posix.dirname(prefix) + '/';
      await this.walk(s, startDir, out);
      return out.filter((o) => o.name.startsWith(prefix)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });
  }

  async delete(name: string): Promise<void> {
    await this.withSession('delete', name, async (s) => {
      await s.unlink(this.path(name)).catch((err: unknown) => {
        if (sftpStatus(err) !== SFTP_NO_SUCH_FILE) throw err;
      });
    });
  }

  async space(): Promise<TargetSpace | null> {
    // Servers without the statvfs extension cannot tell.
    return await this.withSession('space', '.', (s) => s.space(this.path('.')).catch(() => null));
  }

  async stat(name: string): Promise<ObjectInfo | null> {
    return await this.withSession('stat', name, async (s) => {
      try {
        const st = await s.stat(this.path(name));
        return st.isFile() ? { name, sizeBytes: st.size, modifiedMs: modifiedMsOf(st) } : null;
      } catch (err) {
        if (sftpStatus(err) === SFTP_NO_SUCH_FILE) return null;
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    const all = [...this.sessions];
    this.sessions.fill(null);
    for (const p of all) if (p) await p.then((s) => s.close(), () => {});
  }

  private async walk(s: SftpSession, dir: string, out: ObjectInfo[]): Promise<void> {
    let entries;
    try {
      entries = await s.readdir(this.path(dir === '' ? '.' : dir));
    } catch (err) {
      if (sftpStatus(err) === SFTP_NO_SUCH_FILE) return;
      throw err;
    }
    const subdirs: string[] = [];
    for (const e of entries) {
      if (e.filename === '.' || e.filename === '..') continue;
      if (e.attrs.isDirectory()) subdirs.push(`${dir}${e.filename}/`);
      else if (e.attrs.isFile() && !e.filename.includes(TEMP_MARKER)) out.push({ name: `${dir}${e.filename}`, sizeBytes: e.attrs.size, modifiedMs: modifiedMsOf(e.attrs) });
    }
    // SFTP pipelines requests: reading sibling directories together saves round trips.
    await Promise.all(subdirs.map((d) => this.walk(s, d, out)));
  }

  private async writeTemp(s: SftpSession, name: string, data: Uint8Array): Promise<string> {
    const final = this.path(name);
    const tmp = `${final}${TEMP_MARKER}${randomBytes(6).toString('hex')}`;
    try {
      await writeRemoteFile(s, tmp, data);
    } catch (err) {
      if (sftpStatus(err) === SFTP_NO_SUCH_FILE) {
        await this.mkdirs(s, posix.dirname(final));
        await writeRemoteFile(s, tmp, data);
      } else {
        throw await this.classifyWriteError(s, tmp, name, err);
      }
    }
    return tmp;
  }

  /** A failed write is TARGET_FULL when the server's filesystem has no room left. */
  private async classifyWriteError(s: SftpSession, tmp: string, name: string, err: unknown): Promise<unknown> {
    if (s.closed) return err;
    let full = false;
    // Ask before removing the temp file, whose removal frees the space again.
    if (sftpStatus(err) === SFTP_FAILURE && s.hasExtension('statvfs@openssh.com')) {
      const free = await s.freeBytes(posix.dirname(tmp)).catch(() => null);
      full = free !== null && free < 1024 * 1024;
    }
    await s.unlink(tmp).catch(() => {});
    return full ? new VmbakError('TARGET_FULL', { target: this.displayUrl, detail: `no space left writing ${name}` }) : err;
  }

  private async mkdirs(s: SftpSession, dir: string): Promise<void> {
    const made = await s.mkdir(dir).then(() => true, async (err: unknown) => {
      if (sftpStatus(err) === SFTP_NO_SUCH_FILE) return false;
      // Exists already (a concurrent put made it), or a real failure: stat tells which.
      if (await s.stat(dir).then((st) => st.isDirectory(), () => false)) return true;
      throw err;
    });
    if (made) return;
    await this.mkdirs(s, posix.dirname(dir));
    await s.mkdir(dir).catch(async (err: unknown) => {
      if (!(await s.stat(dir).then((st) => st.isDirectory(), () => false))) throw err;
    });
  }

  private path(name: string): string {
    if (name.split('/').includes('..')) throw new VmbakError('INTERNAL', { detail: `bad object name ${name}` });
    return posix.join(this.root!, name);
  }

  /** Runs op on the least busy connection, opening one if a slot is free; maps errors. */
  private async withSession<T>(op: string, name: string, body: (s: SftpSession) => Promise<T>): Promise<T> {
    let session: SftpSession;
    try {
      session = await this.pickSession();
      if (this.root === null) {
        this.root = this.location.path.startsWith('/') ? this.location.path : posix.join(await session.realpath('.'), this.location.path);
      }
    } catch (err) {
      throw mapSftpError(this.displayUrl, op, name, err);
    }
    session.busy++;
    try {
      return await body(session);
    } catch (err) {
      // The server died, hung (keepalives unanswered) or the network went: retryable, and
      // failover moves on.
      if (session.closed && !(err instanceof VmbakError)) {
        const reason = session.lostReason ?? 'connection lost';
        throw new VmbakError('TARGET_UNREACHABLE', { target: this.displayUrl, detail: `connection lost during ${op} ${name} (${reason})` }, { cause: err });
      }
      throw mapSftpError(this.displayUrl, op, name, err);
    } finally {
      session.busy--;
    }
  }

  private async pickSession(): Promise<SftpSession> {
    for (let i = 0; i < this.sessions.length; i++) {
      const p = this.sessions[i];
      if (p) {
        const s = await p.catch(() => null);
        if (!s || s.closed) this.sessions[i] = null;
      }
    }
    const ready = await Promise.all(this.sessions.filter((p): p is Promise<SftpSession> => p !== null));
    const idle = ready.filter((s) => s.busy === 0);
    const freeSlot = this.sessions.indexOf(null);
    if (idle.length === 0 && freeSlot >= 0) {
      const p = SftpSession.connect(this.location, this.options);
      this.sessions[freeSlot] = p;
      p.catch(() => { if (this.sessions[freeSlot] === p) this.sessions[freeSlot] = null; });
      return await p;
    }
    const pool = idle.length > 0 ? idle : ready;
    return pool.reduce((a, b) => (b.busy < a.busy ? b : a));
  }
}

/** SFTP (v3) carries whole seconds, and only when the server sets the ACMODTIME flag. */
function modifiedMsOf(attrs: { mtime?: number }): number | null {
  return typeof attrs.mtime === 'number' ? attrs.mtime * 1000 : null;
}
