// Taking, inspecting and clearing locks. A lock is a lease (lease.ts) stored as generations
// (lock-record.ts). Names: vm-<key> (one backup of a VM at a time), gc (one gc at a time) —
// exclusive, taken by creating the next generation over a free or dead top; op-<random> (a
// backup, restore, verify, copy, prune or export in progress, which gc must respect) —
// shared, one name per operation.
//
// Whether an owner is alive: on this host, its pid must exist with the same start time; from
// another host, its newest generation must be younger than the owner's stale window by the
// storage server's clock (server-clock.ts), so hosts whose clocks disagree judge alike.

import { randomBytes } from 'node:crypto';
import { VmbakError, systemClock, type Clock, type Target } from '../core/index.ts';
import { currentProcessOwner, ownerStatus } from '../host/index.ts';
import {
  encodeRecord, generationObject, isSharedLockName, listGenerations, lockCorrupt, readGeneration,
  type LockGeneration, type LockRecord,
} from './lock-record.ts';
import { Lease, lockTimings, type HeldLock } from './lease.ts';
import { serverClockOffsetMs } from './server-clock.ts';

export type LockOwner = LockRecord;
export type { HeldLock };

/** A lock name's state: its top generation and what it says. */
export interface LockState {
  readonly name: string;
  readonly top: LockGeneration;
  /** Lower generations left behind (removed by whoever takes the lock next). */
  readonly below: LockGeneration[];
  readonly owner: LockRecord;
  readonly status: 'live' | 'dead' | 'free';
}

export function describeOwner(owner: LockRecord): string {
  return `${owner.purpose} on ${owner.host} (pid ${owner.pid}, since ${new Date(owner.startedMs).toISOString()})`;
}

/**
 * Every lock name with its state. A top generation that cannot be read is LOCK_CORRUPT naming
 * the object — unless the server's timestamp says it is older than the default stale window,
 * when it is counted dead.
 */
export async function listLocks(target: Target, clock: Clock = systemClock): Promise<LockState[]> {
  const byName = new Map<string, LockGeneration[]>();
  for (const g of await listGenerations(target)) byName.set(g.name, [...(byName.get(g.name) ?? []), g]);
  const out: LockState[] = [];
  for (const [name, gens] of byName) {
    const state = await readLockState(target, name, gens, clock);
    if (state) out.push(state);
  }
  return out;
}

/** Takes a lock: exclusive names over a free or dead top, shared names at once. Throws REPO_LOCKED naming a live owner. */
export async function acquireLock(target: Target, name: string, purpose: string, what: string, clock: Clock = systemClock): Promise<HeldLock> {
  const timings = lockTimings();
  const now = clock.nowMs();
  const record: LockRecord = {
    token: randomBytes(12).toString('hex'), ...currentProcessOwner(), startedMs: now, refreshedMs: now,
    staleAfterMs: timings.staleAfterMs, purpose, released: false,
  };
  if (isSharedLockName(name)) {
    if (!(await target.create(generationObject(name, 1), encodeRecord(record)))) throw new VmbakError('INTERNAL', { detail: `lock name ${name} is taken` });
    return new Lease(target, name, 1, record, what, clock, timings);
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const gens = await listGenerations(target, name);
    let next = 1;
    if (gens.length > 0) {
      const state = await readLockState(target, name, gens, clock);
      if (!state) continue; // the top went away meanwhile: look again
      if (state.status === 'live') throw new VmbakError('REPO_LOCKED', { what, repo: target.displayUrl, owner: describeOwner(state.owner) });
      next = state.top.generation + 1;
    }
    // Exactly one process creates generation `next`: that is the whole race.
    if (!(await target.create(generationObject(name, next), encodeRecord(record)))) continue;
    // A listing taken long ago can lead to a generation below the top: that is no win.
    const after = await listGenerations(target, name);
    if (after.at(-1)?.generation !== next) {
      await target.delete(generationObject(name, next));
      continue;
    }
    for (const g of after) if (g.generation < next) await target.delete(g.object).catch(() => {});
    return new Lease(target, name, next, record, what, clock, timings);
  }
  throw new VmbakError('REPO_LOCKED', { what, repo: target.displayUrl, owner: 'another process (the lock keeps changing hands)' });
}

/**
 * Clears a dead owner's lock. An exclusive name is taken over (a released generation on top,
 * so the dead owner, should it wake, finds its lock gone); a shared one is deleted. Either way
 * only the objects read as dead are removed, never a generation written since.
 */
export async function removeDeadLock(target: Target, state: LockState): Promise<boolean> {
  if (!isSharedLockName(state.name)) {
    const free: LockRecord = { ...state.owner, released: true, purpose: `${state.owner.purpose} (removed as dead)` };
    if (!(await target.create(generationObject(state.name, state.top.generation + 1), encodeRecord(free)))) return false;
  }
  for (const g of [...state.below, state.top]) await target.delete(g.object);
  return true;
}

/** A lock name no other process will pick, for shared "operation in progress" locks. */
export function operationLockName(): string {
  return `op-${randomBytes(8).toString('hex')}`;
}

async function readLockState(target: Target, name: string, gens: LockGeneration[], clock: Clock): Promise<LockState | null> {
  const top = gens.at(-1)!;
  const below = gens.slice(0, -1);
  const stored = await readGeneration(target, top.object);
  if (stored === 'missing') return null;
  if ('corrupt' in stored) {
    const ageMs = await serverAgeMs(target, top, null, clock);
    if (ageMs !== null && ageMs > lockTimings().staleAfterMs) {
      const placeholder: LockRecord = { token: '', host: '?', pid: 0, pidStartTicks: null, startedMs: 0, refreshedMs: 0, staleAfterMs: 1, purpose: `unreadable lock ${top.object}`, released: false };
      return { name, top, below, owner: placeholder, status: 'dead' };
    }
    throw lockCorrupt(target, top.object, stored.corrupt);
  }
  if (stored.released) return { name, top, below, owner: stored, status: 'free' };
  return { name, top, below, owner: stored, status: (await isOwnerAlive(target, top, stored, clock)) ? 'live' : 'dead' };
}

async function isOwnerAlive(target: Target, top: LockGeneration, owner: LockRecord, clock: Clock): Promise<boolean> {
  const local = ownerStatus(owner);
  if (local !== 'foreign') return local === 'alive';
  const ageMs = await serverAgeMs(target, top, owner, clock);
  return ageMs! < owner.staleAfterMs;
}

/**
 * How long ago the generation was written, by the server's clock; by the owner's refreshedMs
 * against this host's clock where the target keeps no timestamps (null if neither is known).
 */
async function serverAgeMs(target: Target, gen: LockGeneration, owner: LockRecord | null, clock: Clock): Promise<number | null> {
  const offsetMs = await serverClockOffsetMs(target, clock);
  if (offsetMs !== null) {
    // A fresh stat: some servers list times to the minute only.
    const modifiedMs = (await target.stat(gen.object))?.modifiedMs ?? gen.modifiedMs;
    if (modifiedMs != null) return clock.nowMs() + offsetMs - modifiedMs;
  }
  return owner ? clock.nowMs() - owner.refreshedMs : null;
}
