// The storage server's clock, as seen from this host. Whether a lock on another host is stale
// is judged by the server's timestamps on the lock's objects against the server's "now", so
// two hosts whose clocks disagree still agree on a lock's age. The offset between this host's
// clock and the server's is measured once per target by writing a probe object and reading
// its timestamp back; a target that keeps no timestamps gives no offset.

import { randomBytes } from 'node:crypto';
import { type Clock, type Target } from '../core/index.ts';
import { LOCKS_PREFIX } from './layout.ts';

const offsets = new WeakMap<Target, Promise<number | null>>();

/** Server time minus this host's time, in ms, or null when the target records no times. */
export function serverClockOffsetMs(target: Target, clock: Clock): Promise<number | null> {
  let offset = offsets.get(target);
  if (!offset) {
    offset = measureOffset(target, clock);
    offsets.set(target, offset);
    offset.catch(() => offsets.delete(target));
  }
  return offset;
}

async function measureOffset(target: Target, clock: Clock): Promise<number | null> {
  const probe = `${LOCKS_PREFIX}clock-${randomBytes(8).toString('hex')}.probe`;
  const beforeMs = clock.nowMs();
  await target.put(probe, Buffer.from('clock probe\n'));
  const afterMs = clock.nowMs();
  try {
    const info = await target.stat(probe);
    const serverMs = info?.modifiedMs ?? null;
    // Servers keep whole seconds at worst: the midpoint of the write is as good as it gets.
    return serverMs === null ? null : serverMs - (beforeMs + afterMs) / 2;
  } finally {
    await target.delete(probe).catch(() => {});
  }
}
