// The controller's event log: what happened (a job failed, a VM missed its RPO, a host went
// silent), kept for the console and routed to alert channels. An event's key names what it
// is about, stable across repeats ("rpo.missed:vm:<uuid>"), so alerts can de-duplicate.

import type { Catalog } from './open.ts';
import { decodeCursor, encodeCursor, pageLimit, type Page, type PageRequest } from './records.ts';
import type { EventTable } from './schema.ts';

/** The event kinds alert rules can route. */
export const ALERT_EVENT_KINDS = [
  'job.failed', 'job.warning', 'rpo.missed', 'verify.failed', 'repository.unreachable',
  'repository.nearly-full', 'gc.failed', 'host.lost', 'instant.paused',
] as const;
export type AlertEventKind = (typeof ALERT_EVENT_KINDS)[number];

export type EventSeverity = 'info' | 'warning' | 'error';

export interface EventInput {
  readonly kind: string;
  readonly severity: EventSeverity;
  readonly key: string;
  readonly message: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

export interface EventRecord extends Required<EventInput> {
  readonly id: number;
  readonly timeMs: number;
}

export async function recordEvent(catalog: Catalog, event: EventInput): Promise<EventRecord> {
  const row = {
    time_ms: catalog.clock.nowMs(), kind: event.kind, severity: event.severity, event_key: event.key,
    message: event.message, data_json: JSON.stringify(event.data ?? {}),
  };
  const { id } = await catalog.db.insertInto('events').values(row).returning('id').executeTakeFirstOrThrow();
  return toRecord({ ...row, id });
}

export interface EventFilter extends PageRequest {
  readonly kind?: string;
  readonly sinceMs?: number;
}

/** Newest first, paged by id. */
export async function listEvents(catalog: Catalog, filter: EventFilter = {}): Promise<Page<EventRecord>> {
  const limit = pageLimit(filter);
  let q = catalog.db.selectFrom('events');
  if (filter.kind !== undefined) q = q.where('kind', '=', filter.kind);
  if (filter.sinceMs !== undefined) q = q.where('time_ms', '>=', filter.sinceMs);
  const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  let pageQuery = q.selectAll().orderBy('id', 'desc').limit(limit + 1);
  if (filter.cursor) pageQuery = pageQuery.where('id', '<', decodeCursor(filter.cursor, ['number'])[0] as number);
  const rows = await pageQuery.execute();
  const items = rows.slice(0, limit).map(toRecord);
  return { items, total: Number(total.n), next: rows.length > limit ? encodeCursor([items.at(-1)!.id]) : null };
}

function toRecord(row: Omit<EventTable, 'id'> & { id: number }): EventRecord {
  return {
    id: Number(row.id), timeMs: row.time_ms, kind: row.kind, severity: row.severity as EventSeverity, key: row.event_key,
    message: row.message, data: JSON.parse(row.data_json) as Record<string, unknown>,
  };
}
