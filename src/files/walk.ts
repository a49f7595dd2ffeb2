// Lists every entry of the mounted guest filesystem in one pass of the appliance's `find`
// (and hashes regular files up to a size limit with one `sha256sum` run), instead of an
// lstat round trip per file. The guest is untrusted: the walk is capped in entries, depth,
// bytes brought back and time, and a filesystem past a cap is an error, never a partial
// listing presented as complete.

import { VmbakError } from '../core/index.ts';
import type { IndexedEntry, IndexedType } from '../repository/index.ts';
import type { Guestfish } from './guestfish.ts';
import { applianceSh, readApplianceFile } from './appliance-shell.ts';

export interface WalkLimits {
  /** Regular files up to this size get a SHA-256 (0: none). */
  readonly hashLimitBytes: number;
  readonly maxEntries: number;
  readonly maxDepth: number;
  /** Bytes of listing brought back to the host (paths dominate). */
  readonly maxListBytes: number;
  readonly timeoutMs: number;
}

export const DEFAULT_WALK_LIMITS: WalkLimits = {
  hashLimitBytes: 1024 * 1024, maxEntries: 5_000_000, maxDepth: 256, maxListBytes: 1024 * 1024 * 1024, timeoutMs: 2 * 3600_000,
};

const TYPE_OF: Record<string, IndexedType> = { f: 'file', d: 'dir', l: 'symlink', c: 'char', b: 'block', p: 'fifo', s: 'socket' };
const WALK = '/tmp/vmbak-walk';
const ERRORS = '/tmp/vmbak-walk-errors';
const HASHES = '/tmp/vmbak-hashes';

export interface Walked {
  /** Sorted by path. */
  readonly entries: IndexedEntry[];
  /** What `find` could not read (damaged directories, I/O errors): the first few, and how many in all. */
  readonly warnings: string[];
}

/** Every entry of the filesystem mounted at the guestfish root. */
export async function walkMounted(g: Guestfish, fsId: string, backupId: string, limits: WalkLimits): Promise<Walked> {
  const fail = (detail: string) => new VmbakError('FILE_INDEX_LIMIT', { fs: fsId, backupId, detail });
  // One past each cap is listed, so that reaching a cap is told apart from meeting it exactly.
  const cap = limits.maxEntries + 1;
  const depth = limits.maxDepth + 1;
  const hashing = limits.hashLimitBytes > 0
    ? `find . -xdev -maxdepth ${depth} -type f -size -${limits.hashLimitBytes + 1}c -print0 | head -z -n ${cap} | xargs -0 -r sha256sum -z > ${HASHES} 2>/dev/null`
    : `: > ${HASHES}`;
  const lines = await applianceSh(g, [
    'cd /sysroot || exit 1',
    `find . -xdev -maxdepth ${depth} -printf '%y %s %T@ %m %U %G %p\\0' 2>${ERRORS} | head -z -n ${cap} > ${WALK}`,
    hashing,
    `echo "sizes $(wc -c < ${WALK}) $(wc -c < ${HASHES}) $(wc -l < ${ERRORS})"`,
    `head -c 2000 ${ERRORS} | head -n 5 | sed 's/^/walk-error /'`,
  ].join('\n'), limits.timeoutMs);
  const sizes = lines.map((l) => /^sizes (\d+) (\d+) (\d+)$/.exec(l)).find((m) => m !== null);
  if (!sizes) throw new VmbakError('FILE_BROWSER_FAILED', { detail: `walking ${fsId}: no result (${lines.slice(-2).join('; ')})` });
  const [walkBytes, hashBytes] = [Number(sizes[1]), Number(sizes[2])];
  if (walkBytes + hashBytes > limits.maxListBytes) throw fail(`its listing takes ${walkBytes + hashBytes} bytes, more than ${limits.maxListBytes}`);
  const records = splitNul(await readApplianceFile(g, WALK, walkBytes, limits.timeoutMs));
  if (records.length >= cap) throw fail(`it holds more than ${limits.maxEntries} entries`);
  const hashes = parseHashes(splitNul(await readApplianceFile(g, HASHES, hashBytes, limits.timeoutMs)));
  const entries = records.map((r) => parseRecord(r, fsId, hashes));
  const tooDeep = entries.find((e) => depthOf(e.path) > limits.maxDepth);
  if (tooDeep) throw fail(`${tooDeep.path.slice(0, 200)}… is nested deeper than ${limits.maxDepth} levels`);
  const errorCount = Number(sizes[3]);
  const warnings = lines.filter((l) => l.startsWith('walk-error ')).map((l) => l.slice(11).replace('/sysroot', '').slice(0, 300));
  if (errorCount > warnings.length) warnings.push(`… ${errorCount} errors in all`);
  return { entries: entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), warnings };
}

function splitNul(data: Buffer): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = data.indexOf(0); i >= 0; start = i + 1, i = data.indexOf(0, start)) out.push(data.toString('utf8', start, i));
  return out;
}

/** `./a/b` → `/a/b`, `.` → `/`. */
function guestPathOf(found: string): string {
  return found === '.' ? '/' : found.slice(1);
}

function parseHashes(records: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of records) {
    // sha256sum -z: "<64 hex>  <name>", names unescaped.
    if (/^[0-9a-f]{64} {2}/.test(r)) out.set(guestPathOf(r.slice(66)), r.slice(0, 64));
  }
  return out;
}

function parseRecord(record: string, fsId: string, hashes: ReadonlyMap<string, string>): IndexedEntry {
  // "%y %s %T@ %m %U %G %p": six space-free fields, then the path (which may hold anything but NUL).
  const fields: string[] = [];
  let at = 0;
  for (let i = 0; i < 6; i++) {
    const space = record.indexOf(' ', at);
    if (space < 0) throw new VmbakError('FILE_BROWSER_FAILED', { detail: `walking ${fsId}: unreadable record ${JSON.stringify(record.slice(0, 100))}` });
    fields.push(record.slice(at, space));
    at = space + 1;
  }
  const path = guestPathOf(record.slice(at));
  const type = TYPE_OF[fields[0]!] ?? 'file';
  return {
    path, type, sizeBytes: Number(fields[1]), mtimeMs: mtimeMsOf(fields[2]!), mode: parseInt(fields[3]!, 8),
    uid: Number(fields[4]), gid: Number(fields[5]), sha256: type === 'file' ? hashes.get(path) ?? null : null,
  };
}

/** find's `%T@` is seconds with a 10-digit fraction: taken apart as text so no float rounding moves a millisecond. */
function mtimeMsOf(text: string): number {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return 0;
  const ms = Number(m[2]) * 1000 + Number((m[3] ?? '').slice(0, 3).padEnd(3, '0'));
  return m[1] ? -ms : ms;
}

function depthOf(path: string): number {
  return path === '/' ? 0 : path.split('/').length - 1;
}
