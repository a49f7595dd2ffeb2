// The file index of one backup: every file of every guest filesystem it could walk (path,
// type, size, mtime, mode, owner, and a SHA-256 of regular files up to a size limit), so
// "which backups hold invoice.pdf" is answered without starting an appliance. It is an
// object of the backup's own folder (`backups/<id>/files.index`), sealed like a manifest,
// so it is kept exactly as long as the backup, removed by prune with it, and never read by
// anything older. Layout before sealing: NDJSON — a header line, then one line per entry.

import { z } from 'zod';

export type IndexedType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

export interface IndexedEntry {
  /** Absolute path inside its filesystem, e.g. /home/ann/invoice.pdf. */
  readonly path: string;
  readonly type: IndexedType;
  readonly sizeBytes: number;
  readonly mtimeMs: number;
  /** Permission bits with setuid/setgid/sticky. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Hex SHA-256 of the content, for regular files up to the index's hash limit; else null. */
  readonly sha256: string | null;
}

const extentSchema = z.object({ disk: z.string(), startByte: z.number().int().nonnegative(), lengthBytes: z.number().int().nonnegative() });
export type DiskExtent = z.infer<typeof extentSchema>;

const filesystemSchema = z.object({
  id: z.string(),
  type: z.string(),
  /** Where its blocks lie on the backup's disks; null when that could not be told (then it is always walked). */
  extents: z.array(extentSchema).nullable(),
  /** SHA-256 over the chunk ids covering the extents: equal digests mean equal blocks. */
  extentDigest: z.string().nullable(),
  /** The backup whose entries were reused because the blocks were unchanged; null when walked. */
  reusedFrom: z.string().nullable(),
  entryCount: z.number().int().nonnegative(),
  /** Why it has no entries (unmountable, past a limit); null when indexed. */
  error: z.string().nullable(),
  /** What the walk could not read (a damaged directory): its entries are listed as far as readable. */
  warnings: z.array(z.string()).optional(),
});
export type IndexedFilesystem = z.infer<typeof filesystemSchema>;

const headerSchema = z.object({
  format: z.literal('vmbak-file-index'),
  version: z.literal(1),
  backupId: z.string(),
  createdAt: z.string(),
  hashLimitBytes: z.number().int().nonnegative(),
  durationMs: z.number().nonnegative(),
  filesystems: z.array(filesystemSchema),
});
export type FileIndexHeader = z.infer<typeof headerSchema>;

export interface FileIndex {
  readonly header: FileIndexHeader;
  /** Entries per filesystem, in header order. */
  readonly entries: readonly (readonly IndexedEntry[])[];
}

const TYPES: readonly IndexedType[] = ['file', 'dir', 'symlink', 'char', 'block', 'fifo', 'socket'];

export function encodeFileIndex(index: FileIndex): Buffer {
  const parts: string[] = [JSON.stringify(index.header)];
  index.entries.forEach((list, fs) => {
    for (const e of list) parts.push(JSON.stringify([fs, e.path, TYPES.indexOf(e.type), e.sizeBytes, e.mtimeMs, e.mode, e.uid, e.gid, e.sha256]));
  });
  return Buffer.from(`${parts.join('\n')}\n`);
}

/** The index, or a reason it is damaged. */
export function decodeFileIndex(data: Buffer): FileIndex | string {
  const lines = data.toString('utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  let header: FileIndexHeader;
  try {
    const parsed = headerSchema.safeParse(JSON.parse(lines[0] ?? ''));
    if (!parsed.success) return `header: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`;
    header = parsed.data;
  } catch {
    return 'header is not JSON';
  }
  const entries: IndexedEntry[][] = header.filesystems.map(() => []);
  for (let i = 1; i < lines.length; i++) {
    let row: unknown;
    try { row = JSON.parse(lines[i]!); } catch { return `entry line ${i + 1} is not JSON`; }
    if (!Array.isArray(row) || row.length !== 9 || entries[row[0]] === undefined || TYPES[row[2]] === undefined) return `entry line ${i + 1} is malformed`;
    entries[row[0]]!.push({ path: row[1], type: TYPES[row[2]]!, sizeBytes: row[3], mtimeMs: row[4], mode: row[5], uid: row[6], gid: row[7], sha256: row[8] });
  }
  for (const [i, fs] of header.filesystems.entries()) {
    if (entries[i]!.length !== fs.entryCount) return `filesystem ${fs.id} lists ${entries[i]!.length} entries, its header says ${fs.entryCount}`;
  }
  return { header, entries };
}
