// A row per alert sent to a channel: written "pending" when the alert is queued, finished as
// "delivered" or "undelivered" with the reason. Queued-time rows are what makes
// de-duplication work while a send is still in flight: a repeat of the same event key to
// the same channel within the window finds the pending row and is dropped.

import type { Catalog } from './open.ts';
import { decodeCursor, encodeCursor, pageLimit, type Page, type PageRequest } from './records.ts';

export type DeliveryState = 'pending' | 'delivered' | 'undelivered';

export interface DeliveryRecord {
  readonly id: number;
  readonly eventKind: string;
  readonly eventKey: string;
  readonly channel: string;
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly reason: string | null;
  readonly createdMs: number;
  readonly finishedMs: number | null;
}

export async function recordDeliveryQueued(catalog: Catalog, eventKind: string, eventKey: string, channel: string): Promise<number> {
  const { id } = await catalog.db.insertInto('alert_deliveries')
    .values({ event_kind: eventKind, event_key: eventKey, channel, state: 'pending', attempts: 0, reason: null, created_ms: catalog.clock.nowMs(), finished_ms: null })
    .returning('id').executeTakeFirstOrThrow();
  return Number(id);
}

export async function finishDelivery(catalog: Catalog, id: number, state: 'delivered' | 'undelivered', attempts: number, reason: string | null): Promise<void> {
  await catalog.db.updateTable('alert_deliveries')
    .set({ state, attempts, reason, finished_ms: catalog.clock.nowMs() }).where('id', '=', id).execute();
}

/**
 * Whether an alert of `eventKind` for `eventKey` went (or is going) to `channel` since
 * `sinceMs`; undelivered ones do not count. Kinds apart: one repository nearly full and then
 * unreachable is two alerts.
 */
export async function wasAlerted(catalog: Catalog, eventKind: string, eventKey: string, channel: string, sinceMs: number): Promise<boolean> {
  const row = await catalog.db.selectFrom('alert_deliveries').select('id')
    .where('event_key', '=', eventKey).where('event_kind', '=', eventKind).where('created_ms', '>=', sinceMs).where('channel', '=', channel)
    .where('state', '<>', 'undelivered').limit(1).executeTakeFirst();
  return row !== undefined;
}

/**
 * Pending rows older than `olderThanMs` — left by a process that stopped before finishing
 * them (a live sender finishes within its retries) — become undelivered.
 */
export async function failStaleDeliveries(catalog: Catalog, olderThanMs: number, reason: string): Promise<number> {
  const nowMs = catalog.clock.nowMs();
  const result = await catalog.db.updateTable('alert_deliveries')
    .set({ state: 'undelivered', reason, finished_ms: nowMs })
    .where('state', '=', 'pending').where('created_ms', '<', nowMs - olderThanMs).executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export interface DeliveryFilter extends PageRequest {
  readonly channel?: string;
  readonly state?: DeliveryState;
}

/** Newest first. */
export async function listDeliveries(catalog: Catalog, filter: DeliveryFilter = {}): Promise<Page<DeliveryRecord>> {
  const limit = pageLimit(filter);
  let q = catalog.db.selectFrom('alert_deliveries');
  if (filter.channel !== undefined) q = q.where('channel', '=', filter.channel);
  if (filter.state !== undefined) q = q.where('state', '=', filter.state);
  const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  let pageQuery = q.selectAll().orderBy('id', 'desc').limit(limit + 1);
  if (filter.cursor) pageQuery = pageQuery.where('id', '<', decodeCursor(filter.cursor, ['number'])[0] as number);
  const rows = await pageQuery.execute();
  const items: DeliveryRecord[] = rows.slice(0, limit).map((r) => ({
    id: Number(r.id), eventKind: r.event_kind, eventKey: r.event_key, channel: r.channel, state: r.state as DeliveryState,
    attempts: r.attempts, reason: r.reason, createdMs: r.created_ms, finishedMs: r.finished_ms,
  }));
  return { items, total: Number(total.n), next: rows.length > limit ? encodeCursor([items.at(-1)!.id]) : null };
}
