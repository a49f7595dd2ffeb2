// What a lock object holds and where it lives. A lock name is a sequence of generations,
// `locks/<name>/<generation>.lock`, each an immutable object created with create-if-absent:
// whoever creates generation g+1 after seeing g on top has taken the lock over (or, when it
// is the owner, refreshed it). The top generation is the lock's state; lower ones are left
// over and removed by whoever wrote the top. See "Locks" in docs/format.md.

import { z } from 'zod';
import { VmbakError, isVmbakError, type Target } from '../core/index.ts';
import { LOCKS_PREFIX } from './layout.ts';

const recordSchema = z.object({
  /** Random per acquisition: tells our generations from anyone else's, whatever the name. */
  token: z.string().default(''),
  host: z.string(),
  pid: z.number().int(),
  pidStartTicks: z.number().nullable(),
  startedMs: z.number(),
  refreshedMs: z.number(),
  /** The owner's stale window: observers judge the lock by the window its owner chose. */
  staleAfterMs: z.number().positive().default(10 * 60_000),
  purpose: z.string(),
  /** True on a generation that only marks the name free (written by a release or a takeover). */
  released: z.boolean().default(false),
  /** The id of the gc plan the owner read after taking the lock ('' for none); absent until then. */
  gcPlanSeen: z.string().optional(),
});
export type LockRecord = z.infer<typeof recordSchema>;

/** One generation object of a lock as a listing shows it. */
export interface LockGeneration {
  readonly name: string;
  readonly generation: number;
  readonly object: string;
  readonly modifiedMs: number | null;
}

const GENERATION_DIGITS = 12;

export function generationObject(name: string, generation: number): string {
  return `${LOCKS_PREFIX}${name}/${String(generation).padStart(GENERATION_DIGITS, '0')}.lock`;
}

/** Locks of unique names (`op-…`) are shared: many exist at once and none excludes another. */
export function isSharedLockName(name: string): boolean {
  return name.startsWith('op-');
}

/**
 * Parses a listing of locks/ into generations. A lock object of the earlier single-object
 * layout (`locks/<name>.lock`) counts as generation 0 of its name.
 */
export function parseLockListing(objects: readonly { name: string; modifiedMs?: number | null }[]): LockGeneration[] {
  const out: LockGeneration[] = [];
  for (const o of objects) {
    const rest = o.name.slice(LOCKS_PREFIX.length);
    const m = /^([^/]+)\/(\d+)\.lock$/.exec(rest);
    if (m) out.push({ name: m[1]!, generation: Number(m[2]), object: o.name, modifiedMs: o.modifiedMs ?? null });
    else if (/^[^/]+\.lock$/.test(rest)) out.push({ name: rest.slice(0, -'.lock'.length), generation: 0, object: o.name, modifiedMs: o.modifiedMs ?? null });
  }
  return out.sort((a, b) => (a.name === b.name ? a.generation - b.generation : a.name < b.name ? -1 : 1));
}

export async function listGenerations(target: Target, name?: string): Promise<LockGeneration[]> {
  const all = parseLockListing(await target.list(name === undefined ? LOCKS_PREFIX : `${LOCKS_PREFIX}${name}`));
  return name === undefined ? all : all.filter((g) => g.name === name);
}

export function encodeRecord(record: LockRecord): Buffer {
  return Buffer.from(JSON.stringify(record) + '\n');
}

/**
 * Reads one generation: its record, 'missing' when it went away since the listing, or
 * 'corrupt' with why. An unreadable lock is never taken for a dead one by itself.
 */
export async function readGeneration(target: Target, object: string): Promise<LockRecord | 'missing' | { corrupt: string }> {
  let data: Buffer;
  try {
    data = await target.get(object);
  } catch (err) {
    if (isVmbakError(err, 'OBJECT_MISSING')) return 'missing';
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString('utf8'));
  } catch {
    return { corrupt: 'not JSON' };
  }
  const parsed = recordSchema.safeParse(raw);
  if (!parsed.success) return { corrupt: `${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}` };
  return parsed.data;
}

export function lockCorrupt(target: Target, object: string, detail: string): VmbakError {
  return new VmbakError('LOCK_CORRUPT', { object, repo: target.displayUrl, detail });
}
