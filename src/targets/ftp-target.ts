// A repository on an FTP or FTPS (explicit TLS) server. Atomic put: upload to a temporary
// name in the final directory, then RNFR/RNTO onto the final name (vsftpd and most Unix
// servers replace the target atomically with rename(2)). Create-if-absent has no FTP
// primitive; it uses MKD of a claim directory `<name>.vmbak-claim` as a mutex, since MKD
// fails atomically when the directory exists: the claim holder checks the name is free,
// renames its temp file in and removes the claim. This makes concurrent creates exclusive
// with each other; it does not stop a plain put from overwriting (put means overwrite), and
// a claim left by a crashed writer is broken after CLAIM_STALE_MS. Ranged reads use REST
// and close the data connection once the range has arrived. Times: see ftp-times.ts.

import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { Writable } from 'node:stream';
import { VmbakError, type ByteRange, type ObjectInfo, type Target } from '../core/index.ts';
import { TEMP_MARKER } from './local-target.ts';
import { FtpPool, type FtpEndpoint } from './ftp-pool.ts';
import { ftpReplyCode, mapFtpError } from './ftp-errors.ts';
import { storeBuffer } from './ftp-upload.ts';
import { listedModifiedMs, mdtmModifiedMs } from './ftp-times.ts';
import type { TargetOptions } from './target-options.ts';
import type { Client } from 'basic-ftp';

const CLAIM_SUFFIX = '.vmbak-claim';
const CLAIM_STALE_MS = 30_000;

export interface FtpLocation extends FtpEndpoint {
  readonly path: string;
}

export class FtpTarget implements Target {
  readonly displayUrl: string;
  private readonly pool: FtpPool;
  private readonly rootPath: string;

  constructor(location: FtpLocation, options: TargetOptions) {
    this.displayUrl = location.displayUrl;
    this.pool = new FtpPool(location, options);
    this.rootPath = location.path;
  }

  async put(name: string, data: Uint8Array): Promise<void> {
    await this.op('put', name, async (c) => {
      const tmp = await this.uploadTemp(c, name, data);
      await c.rename(tmp, this.path(name)).catch(async (err: unknown) => {
        await c.remove(tmp, true).catch(() => {});
        throw err;
      });
    });
  }

  async create(name: string, data: Uint8Array): Promise<boolean> {
    return await this.op('create', name, async (c) => {
      const tmp = await this.uploadTemp(c, name, data);
      const claim = this.path(name) + CLAIM_SUFFIX;
      try {
        if (!(await this.takeClaim(c, claim, name))) return false;
        try {
          if ((await this.size(c, this.path(name))) !== null) return false;
          await c.rename(tmp, this.path(name));
          return true;
        } finally {
          await c.removeEmptyDir(claim).catch(() => {});
        }
      } finally {
        await c.remove(tmp, true).catch(() => {});
      }
    });
  }

  async get(name: string, range?: ByteRange): Promise<Buffer> {
    if (range?.lengthBytes === 0) {
      if ((await this.stat(name)) === null) throw new VmbakError('OBJECT_MISSING', { object: name, target: this.displayUrl });
      return Buffer.alloc(0);
    }
    return await this.op('get', name, async (c) => {
      const wantBytes = range?.lengthBytes ?? Infinity;
      const parts: Buffer[] = [];
      let gotBytes = 0;
      let enough!: () => void;
      const gotEnough = new Promise<'enough'>((resolve) => { enough = () => resolve('enough'); });
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          if (gotBytes < wantBytes) { parts.push(chunk); gotBytes += chunk.length; }
          if (gotBytes >= wantBytes) enough();
          done();
        },
      });
      const download = c.downloadTo(sink, this.path(name), range?.offsetBytes ?? 0).then(() => 'done' as const);
      let outcome: 'done' | 'enough';
      try {
        outcome = await Promise.race([download, gotEnough]);
      } catch (err) {
        if (ftpReplyCode(err) === 550) throw new VmbakError('OBJECT_MISSING', { object: name, target: this.displayUrl });
        throw err;
      }
      if (outcome === 'enough') {
        // The rest of the file is not wanted: drop this client's transfer (and the client).
        download.catch(() => {});
        this.pool.discard(c);
      }
      const all = Buffer.concat(parts);
      if (range && all.length < range.lengthBytes) {
        throw new VmbakError('TARGET_IO', { target: this.displayUrl, op: 'get', object: name, detail: `short read (${all.length} of ${range.lengthBytes} bytes)` });
      }
      return range ? all.subarray(0, range.lengthBytes) : all;
    });
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    return await this.op('list', prefix || '/', async (c) => {
      const out: ObjectInfo[] = [];
      const startDir = prefix === '' || prefix.endsWith('/') ? prefix : posix.dirname(prefix) === '.' ? '' : posix.dirname(prefix) + '/';
      await this.walk(c, startDir, out);
      return out.filter((o) => o.name.startsWith(prefix)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });
  }

  async delete(name: string): Promise<void> {
    await this.op('delete', name, async (c) => {
      await c.remove(this.path(name)).catch((err: unknown) => {
        if (ftpReplyCode(err) !== 550) throw err;
      });
    });
  }

  async stat(name: string): Promise<ObjectInfo | null> {
    return await this.op('stat', name, async (c) => {
      const sizeBytes = await this.size(c, this.path(name));
      if (sizeBytes === null) return null;
      try {
        return { name, sizeBytes, modifiedMs: await mdtmModifiedMs(c, this.path(name)) };
      } catch (err) {
        if (ftpReplyCode(err) === 550) return null; // removed between SIZE and MDTM
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private async size(c: Client, path: string): Promise<number | null> {
    try {
      return await c.size(path);
    } catch (err) {
      if (ftpReplyCode(err) === 550) return null;
      throw err;
    }
  }

  /** MKD is atomic on the server: whoever makes the claim directory holds the name. */
  private async takeClaim(c: Client, claim: string, name: string): Promise<boolean> {
    const deadline = Date.now() + CLAIM_STALE_MS;
    for (;;) {
      try {
        await c.send(`MKD ${claim}`);
        return true;
      } catch (err) {
        if (ftpReplyCode(err) !== 550) throw err;
      }
      // Another create holds the claim: once its object is there, ours loses.
      if ((await this.size(c, this.path(name))) !== null) return false;
      if (Date.now() > deadline) await c.removeEmptyDir(claim).catch(() => {});
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async uploadTemp(c: Client, name: string, data: Uint8Array): Promise<string> {
    const final = this.path(name);
    const tmp = `${final}${TEMP_MARKER}${randomBytes(6).toString('hex')}`;
    const upload = (): Promise<unknown> => storeBuffer(c, tmp, Buffer.from(data.buffer, data.byteOffset, data.length));
    try {
      await upload();
    } catch (err) {
      if (c.closed) throw err;
      const code = ftpReplyCode(err);
      if (code !== 550 && code !== 553) {
        await c.remove(tmp, true).catch(() => {});
        throw mapFtpError(this.displayUrl, 'put', name, err);
      }
      await c.ensureDir(posix.dirname(final));
      try {
        await upload();
      } catch (err2) {
        if (!c.closed) await c.remove(tmp, true).catch(() => {});
        throw mapFtpError(this.displayUrl, 'put', name, err2);
      }
    }
    return tmp;
  }

  private async walk(c: Client, dir: string, out: ObjectInfo[]): Promise<void> {
    const entries = await c.list(this.path(dir === '' ? '.' : dir)).catch((err: unknown) => {
      if (ftpReplyCode(err) === 550 || ftpReplyCode(err) === 450) return [];
      throw err;
    });
    for (const e of entries) {
      if (e.name === '.' || e.name === '..') continue;
      if (e.isDirectory && !e.name.endsWith(CLAIM_SUFFIX)) await this.walk(c, `${dir}${e.name}/`, out);
      else if (e.isFile && !e.name.includes(TEMP_MARKER)) out.push({ name: `${dir}${e.name}`, sizeBytes: e.size, modifiedMs: listedModifiedMs(e) });
    }
  }

  private path(name: string): string {
    if (name.split('/').includes('..')) throw new VmbakError('INTERNAL', { detail: `bad object name ${name}` });
    return posix.join(this.rootPath, name);
  }

  private async op<T>(op: string, name: string, body: (c: Client) => Promise<T>): Promise<T> {
    try {
      return await this.pool.use(body);
    } catch (err) {
      if (err instanceof VmbakError) throw err;
      throw mapFtpError(this.displayUrl, op, name, err);
    }
  }
}
