// Hypervisor hosts the controller has heard from. A host is online while it reports (an
// inventory sync, an agent's heartbeat); markLostHosts turns the silent ones to lost once,
// which is what the host.lost alert fires on.

import type { StoragePool } from '../core/index.ts';
import type { Catalog } from './open.ts';
import type { HostTable } from './schema.ts';

export type HostState = 'online' | 'lost';

export interface HostRecord {
  readonly name: string;
  readonly uri: string | null;
  readonly state: HostState;
  readonly firstSeenMs: number;
  readonly lastSeenMs: number;
  /** Jobs its agent runs at once, as the agent said at registration (null: not said). */
  readonly streams: number | null;
  /** Its storage pools as last listed (empty until it reports them). */
  readonly pools: StoragePool[];
}

export async function recordHostSeen(catalog: Catalog, name: string, uri: string | null = null): Promise<void> {
  const nowMs = catalog.clock.nowMs();
  await catalog.db.insertInto('hosts')
    .values({ name, uri, state: 'online', first_seen_ms: nowMs, last_seen_ms: nowMs })
    .onConflict((oc) => oc.column('name').doUpdateSet({ uri, state: 'online', last_seen_ms: nowMs }))
    .execute();
}

/** An agent's streams, said at registration: a controller keeps no more of the host's jobs in flight. */
export async function recordHostStreams(catalog: Catalog, name: string, streams: number | null): Promise<void> {
  await catalog.db.updateTable('hosts').set({ streams }).where('name', '=', name).execute();
}

/** The host's storage pools, as its inventory lists them. */
export async function recordHostPools(catalog: Catalog, name: string, pools: readonly StoragePool[]): Promise<void> {
  await catalog.db.updateTable('hosts').set({ pools_json: JSON.stringify(pools) }).where('name', '=', name).execute();
}

/** Marks online hosts silent for longer than `silentMs` as lost; returns the ones that just became lost. */
export async function markLostHosts(catalog: Catalog, silentMs: number): Promise<string[]> {
  const rows = await catalog.db.updateTable('hosts').set({ state: 'lost' })
    .where('state', '=', 'online').where('last_seen_ms', '<', catalog.clock.nowMs() - silentMs)
    .returning('name').execute();
  return rows.map((r) => r.name).sort();
}

export async function listHosts(catalog: Catalog): Promise<HostRecord[]> {
  const rows = await catalog.db.selectFrom('hosts').selectAll().orderBy('name').execute();
  return rows.map(toRecord);
}

const toRecord = (row: HostTable): HostRecord => ({
  name: row.name, uri: row.uri, state: row.state as HostState, firstSeenMs: row.first_seen_ms, lastSeenMs: row.last_seen_ms,
  streams: row.streams ?? null,
  pools: row.pools_json ? JSON.parse(row.pools_json) as StoragePool[] : [],
});
