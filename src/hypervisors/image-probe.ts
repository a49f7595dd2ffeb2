// Decides whether a file is a disk image before qemu-nbd is started, so that a wrong path
// gets a one-line IMAGE_NOT_FOUND / NOT_A_DISK_IMAGE instead of a qemu-nbd failure. QEMU
// calls any file "raw", so a raw image must at least be a non-empty whole number of
// 512-byte sectors; a qcow2 whose backing chain cannot be opened is refused here too.

import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { VmbakError, describeError } from '../core/index.ts';

export interface ImageInfo {
  readonly format: string;
  readonly virtualSizeBytes: number;
  /** Absolute paths of the backing files under the image, top first (a qcow2 overlay's chain). */
  readonly backingPaths: readonly string[];
}

const SECTOR_BYTES = 512;

export async function probeImage(absPath: string, format?: string): Promise<ImageInfo> {
  const fileSizeBytes = await statImage(absPath);
  const args = ['info', '--output=json', '--backing-chain', ...(format ? ['-f', format] : []), absPath];
  const json = await runQemuImg(args, absPath);
  type Entry = { format?: unknown; 'virtual-size'?: unknown; 'full-backing-filename'?: unknown };
  let top: Entry;
  let chain: Entry[];
  try {
    const parsed: unknown = JSON.parse(json);
    chain = (Array.isArray(parsed) ? parsed : [parsed]) as Entry[];
    top = chain[0]!;
  } catch {
    throw new VmbakError('NOT_A_DISK_IMAGE', { path: absPath, detail: 'qemu-img info gave unreadable output' });
  }
  if (typeof top?.format !== 'string' || typeof top['virtual-size'] !== 'number') {
    throw new VmbakError('NOT_A_DISK_IMAGE', { path: absPath, detail: 'qemu-img info reported no format or size' });
  }
  if (top.format === 'raw' && fileSizeBytes !== null) {
    if (fileSizeBytes === 0) throw new VmbakError('NOT_A_DISK_IMAGE', { path: absPath, detail: 'the file is empty' });
    if (fileSizeBytes % SECTOR_BYTES !== 0) {
      throw new VmbakError('NOT_A_DISK_IMAGE', {
        path: absPath, detail: `its size (${fileSizeBytes} bytes) is not a whole number of ${SECTOR_BYTES}-byte sectors`,
      });
    }
  }
  const backingPaths = chain.map((e) => e['full-backing-filename']).filter((p): p is string => typeof p === 'string');
  return { format: top.format, virtualSizeBytes: top['virtual-size'], backingPaths };
}

/** A persistent dirty bitmap of a qcow2 image; not consistent while in use or after a crash. */
export interface ImageBitmap {
  readonly name: string;
  readonly consistent: boolean;
}

/** The persistent dirty bitmaps of an image (none for other formats than qcow2). */
export async function listImageBitmaps(imagePath: string): Promise<ImageBitmap[]> {
  const absPath = path.resolve(imagePath);
  // -U: a read of the header only, even if a QEMU holds the image (it would say in-use then).
  const json = await runQemuImg(['info', '--output=json', '-U', absPath], absPath);
  type Bitmap = { name?: unknown; flags?: unknown };
  let bitmaps: Bitmap[] = [];
  try {
    const info = JSON.parse(json) as { 'format-specific'?: { data?: { bitmaps?: Bitmap[] } } };
    bitmaps = info['format-specific']?.data?.bitmaps ?? [];
  } catch {
    throw new VmbakError('NOT_A_DISK_IMAGE', { path: absPath, detail: 'qemu-img info gave unreadable output' });
  }
  return bitmaps.filter((b): b is { name: string; flags?: unknown } => typeof b.name === 'string').map((b) => ({
    name: b.name,
    consistent: !(Array.isArray(b.flags) && b.flags.includes('in-use')),
  }));
}

/** File size for regular files, null for block devices (whose size qemu reports). */
async function statImage(absPath: string): Promise<number | null> {
  try {
    const st = await stat(absPath);
    if (st.isBlockDevice()) return null;
    if (!st.isFile()) throw new VmbakError('NOT_A_DISK_IMAGE', { path: absPath, detail: 'not a regular file or block device' });
    return st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new VmbakError('IMAGE_NOT_FOUND', { path: absPath });
    if (err instanceof VmbakError) throw err;
    throw new VmbakError('NOT_A_DISK_IMAGE', { path: absPath, detail: describeError(err) });
  }
}

function runQemuImg(args: string[], absPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('qemu-img', args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new VmbakError('TOOL_MISSING', { tool: 'qemu-img', hint: 'install the qemu-utils package' }));
      }
      reject(new VmbakError('NOT_A_DISK_IMAGE', { path: absPath, detail: firstQemuLine(stderr) || describeError(err) }));
    });
  });
}

/** The first line of a QEMU tool's stderr without its "qemu-img: " style prefix. */
export function firstQemuLine(stderr: string): string {
  const line = stderr.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.replace(/^qemu-[\w-]+: /, '').trim();
}
