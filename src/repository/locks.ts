// Locks are objects under locks/ created atomically (create-if-absent). Each records its
// owner — host, pid, the process's start time — so a lock left by a dead process can be told
// from a live one: on the same host the pid must exist with the same start time; from another
// host a lock counts as live while it was refreshed within LOCK_STALE_MS. Live owners refresh
// their locks; a writer that finds its lock gone stops instead of writing on.
//
// Lock names: vm-<key> (one backup of a VM at a time), op-<random> (a backup, restore, verify
// or copy in progress, which gc must respect), gc (one gc at a time).

import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { VmbakError, systemClock, type Clock, type Target } from '../core/index.ts';
import { LOCKS_PREFIX, lockObject } from './layout.ts';
import { currentProcessOwner, ownerStatus } from '../host/index.ts';

export const LOCK_REFRESH_MS = 60_000;
export const LOCK_STALE_MS = 10 * 60_000;

const ownerSchema = z.object({
  host: z.string(),
  pid: z.number().int(),
  pidStartTicks: z.number().nullable(),
  startedMs: z.number(),
  refreshedMs: z.number(),
  purpose: z.string(),
});
export type LockOwner = z.infer<typeof ownerSchema>;

export interface HeldLock {
  readonly name: string;
  readonly owner: LockOwner;
  release(): Promise<void>;
}

export function describeOwner(owner: LockOwner): string {
  return `${owner.purpose} on ${owner.host} (pid ${owner.pid}, since ${new Date(owner.startedMs).toISOString()})`;
}

export function isOwnerAlive(owner: LockOwner, clock: Clock = systemClock): boolean {
  if (owner.host !== hostname()) return clock.nowMs() - owner.refreshedMs < LOCK_STALE_MS;
  return ownerStatus(owner) === 'alive';
}

export async function readLock(target: Target, name: string): Promise<LockOwner | null> {
  try {
    const parsed = ownerSchema.safeParse(JSON.parse((await target.get(lockObject(name))).toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch (err) {
    if (err instanceof VmbakError && err.code === 'OBJECT_MISSING') return null;
    if (err instanceof SyntaxError) return null;
    throw err;
  }
}

export async function listLocks(target: Target): Promise<{ name: string; owner: LockOwner | null }[]> {
  const objects = await target.list(LOCKS_PREFIX);
  const out = [];
  for (const o of objects) {
    if (!o.name.endsWith('.lock')) continue;
    const name = o.name.slice(LOCKS_PREFIX.length, -'.lock'.length);
    out.push({ name, owner: await readLock(target, name) });
  }
  return out;
}

/**
 * Takes a lock, removing a dead owner's lock first. Throws REPO_LOCKED naming the live owner.
 */
export async function acquireLock(target: Target, name: string, purpose: string, what: string, clock: Clock = systemClock): Promise<HeldLock> {
  const now = clock.nowMs();
  const owner: LockOwner = { ...currentProcessOwner(), startedMs: now, refreshedMs: now, purpose };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await target.create(lockObject(name), encodeOwner(owner))) return heldLock(target, name, owner, clock);
    const existing = await readLock(target, name);
    if (existing && isOwnerAlive(existing, clock)) {
      throw new VmbakError('REPO_LOCKED', { what, repo: target.displayUrl, owner: describeOwner(existing) });
    }
    await target.delete(lockObject(name));
  }
  throw new VmbakError('REPO_LOCKED', { what, repo: target.displayUrl, owner: 'another process (the lock keeps reappearing)' });
}

/** A lock name no other process will pick, for shared "operation in progress" locks. */
export function operationLockName(): string {
  return `op-${randomBytes(8).toString('hex')}`;
}

function heldLock(target: Target, name: string, owner: LockOwner, clock: Clock): HeldLock {
  let current = owner;
  const timer = setInterval(() => {
    current = { ...current, refreshedMs: clock.nowMs() };
    target.put(lockObject(name), encodeOwner(current)).catch(() => {});
  }, LOCK_REFRESH_MS);
  timer.unref();
  return {
    name,
    owner,
    async release() {
      clearInterval(timer);
      await target.delete(lockObject(name));
    },
  };
}

function encodeOwner(owner: LockOwner): Buffer {
  return Buffer.from(JSON.stringify(owner) + '\n');
}
