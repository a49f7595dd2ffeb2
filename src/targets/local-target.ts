// A repository in a local directory (also NFS and SMB mounts). Atomic writes: the data goes
// to a temporary name in the same directory, is fsynced, then renamed over the final name and
// the directory fsynced, so a crash leaves either the old object or the new one, plus at worst
// a stray temp file that listing ignores and gc removes, and a put that returned stays.

import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, statfs, link, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, relative, sep } from 'node:path';
import { DIRECT_IO_ALIGN_BYTES, VmbakError, describeError, isPageAligned, syncPath, type ByteRange, type ObjectInfo, type Target, type TargetSpace } from '../core/index.ts';

export const TEMP_MARKER = '.vmbak-tmp-';
/** Objects from this size up (packs) are written around the page cache when they can be. */
const DIRECT_WRITE_MIN_BYTES = 1 << 20;

export class LocalTarget implements Target {
  readonly displayUrl: string;
  private readonly root: string;
  /** False once the filesystem refused an O_DIRECT write (tmpfs, some FUSE filesystems). */
  private directWrites = true;

  constructor(root: string) {
    this.root = root;
    this.displayUrl = root;
  }

  async put(name: string, data: Uint8Array): Promise<void> {
    const tmp = await this.writeTemp(name, data);
    try {
      await rename(tmp, this.path(name));
    } catch (err) {
      await rm(tmp, { force: true });
      throw this.ioError('put', name, err);
    }
    await this.syncFolderOf(name, 'put');
  }

  async create(name: string, data: Uint8Array): Promise<boolean> {
    const tmp = await this.writeTemp(name, data);
    try {
      // link() fails with EEXIST instead of replacing: an atomic create-if-absent.
      await link(tmp, this.path(name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw this.ioError('create', name, err);
    } finally {
      await unlink(tmp).catch(() => {});
    }
    await this.syncFolderOf(name, 'create');
    return true;
  }

  /**
   * A new name is durable only once its folder is synced: without it, a power cut seconds
   * after a backup reported success could take its manifest (the name, not the data).
   */
  private async syncFolderOf(name: string, op: string): Promise<void> {
    try {
      await syncPath(dirname(this.path(name)));
    } catch (err) {
      throw this.ioError(op, name, err);
    }
  }

  async get(name: string, range?: ByteRange): Promise<Buffer> {
    let fh;
    try {
      fh = await open(this.path(name), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new VmbakError('OBJECT_MISSING', { object: name, target: this.displayUrl });
      }
      throw this.ioError('get', name, err);
    }
    try {
      const offset = range?.offsetBytes ?? 0;
      const length = range?.lengthBytes ?? (await fh.stat()).size - offset;
      const buf = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      if (done < length) {
        throw new VmbakError('TARGET_IO', { target: this.displayUrl, op: 'get', object: name, detail: `short read (${done} of ${length} bytes)` });
      }
      return buf;
    } catch (err) {
      if (err instanceof VmbakError) throw err;
      throw this.ioError('get', name, err);
    } finally {
      await fh.close();
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    const startDir = prefix.endsWith('/') || prefix === '' ? prefix : dirname(prefix) === '.' ? '' : dirname(prefix) + '/';
    await this.walk(join(this.root, startDir), out);
    return out.filter((o) => o.name.startsWith(prefix)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async delete(name: string): Promise<void> {
    try {
      await rm(this.path(name), { force: true });
    } catch (err) {
      throw this.ioError('delete', name, err);
    }
  }

  async space(): Promise<TargetSpace | null> {
    try {
      const fs = await statfs(this.root);
      return { totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize };
    } catch (err) {
      throw this.ioError('space', '.', err);
    }
  }

  async stat(name: string): Promise<ObjectInfo | null> {
    try {
      const st = await stat(this.path(name));
      return { name, sizeBytes: st.size, modifiedMs: st.mtimeMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw this.ioError('stat', name, err);
    }
  }

  async close(): Promise<void> {}

  private path(name: string): string {
    if (name.split('/').some((part) => part === '..')) throw new VmbakError('INTERNAL', { detail: `bad object name ${name}` });
    return join(this.root, name);
  }

  private async writeTemp(name: string, data: Uint8Array): Promise<string> {
    const final = this.path(name);
    const tmp = `${final}${TEMP_MARKER}${randomBytes(6).toString('hex')}`;
    try {
      await mkdir(dirname(final), { recursive: true });
      if (!(await this.writeDirect(tmp, data))) await writeFully(tmp, 'wx', data, 0, true);
      return tmp;
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      throw this.ioError('put', name, err);
    }
  }

  /**
   * Writes big page-aligned objects (packs) around the page cache: they are written once and
   * read back rarely, so caching them only costs fresh pages and evicts what the host (its
   * VMs) has cached. The aligned bulk goes out with O_DIRECT, the tail and the fsync through
   * an ordinary descriptor. Returns false, leaving no file, when this does not apply or the
   * filesystem refuses O_DIRECT (from then on this target writes through the cache).
   */
  private async writeDirect(tmp: string, data: Uint8Array): Promise<boolean> {
    if (!this.directWrites || data.length < DIRECT_WRITE_MIN_BYTES || !isPageAligned(data)) return false;
    const bulk = data.length - (data.length % DIRECT_IO_ALIGN_BYTES);
    try {
      await writeFully(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT, data.subarray(0, bulk), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
      this.directWrites = false;
      await rm(tmp, { force: true });
      return false;
    }
    await writeFully(tmp, 'r+', data.subarray(bulk), bulk, true);
    return true;
  }

  private async walk(dir: string, out: ObjectInfo[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw this.ioError('list', relative(this.root, dir) || '.', err);
    }
    for (const entry of entries) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await this.walk(full, out);
      else if (entry.isFile() && !entry.name.includes(TEMP_MARKER)) {
        const st = await stat(full).catch(() => null);
        if (st) out.push({ name: relative(this.root, full).split(sep).join('/'), sizeBytes: st.size, modifiedMs: st.mtimeMs });
      }
    }
  }

  private ioError(op: string, object: string, err: unknown): VmbakError {
    const code = (err as NodeJS.ErrnoException).code;
    const detail = describeError(err);
    if (code === 'ENOSPC' || code === 'EDQUOT') return new VmbakError('TARGET_FULL', { target: this.displayUrl, detail }, { cause: err });
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return new VmbakError('TARGET_DENIED', { target: this.displayUrl, detail }, { cause: err });
    return new VmbakError('TARGET_IO', { target: this.displayUrl, op, object, detail }, { cause: err });
  }
}

/** Writes all of data at position into path, opened with flags, fsyncs it when asked, and closes it. */
async function writeFully(path: string, flags: string | number, data: Uint8Array, position: number, sync = false): Promise<void> {
  const fh = await open(path, flags, 0o666);
  try {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
    if (sync) await fh.sync();
  } finally {
    await fh.close();
  }
}
