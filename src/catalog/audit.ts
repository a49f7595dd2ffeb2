// Who changed or restored what: one row per mutating API call or CLI administration command,
// written by the layer that knows the actor. Never holds secrets (callers pass redacted details).

import type { Catalog } from './open.ts';
import { decodeCursor, encodeCursor, pageLimit, type Page, type PageRequest } from './records.ts';

export interface AuditEntry {
  readonly id: number;
  readonly timeMs: number;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

export async function recordAudit(catalog: Catalog, actor: string, action: string, target: string, detail: Record<string, unknown> = {}): Promise<void> {
  await catalog.db.insertInto('audit_log')
    .values({ time_ms: catalog.clock.nowMs(), actor, action, target, detail_json: JSON.stringify(detail) })
    .execute();
}

/** Newest first. */
export async function listAudit(catalog: Catalog, req: PageRequest = {}): Promise<Page<AuditEntry>> {
  const limit = pageLimit(req);
  const total = await catalog.db.selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  let q = catalog.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(limit + 1);
  if (req.cursor) q = q.where('id', '<', decodeCursor(req.cursor, ['number'])[0] as number);
  const rows = await q.execute();
  const items = rows.slice(0, limit).map((r) => ({
    id: Number(r.id), timeMs: r.time_ms, actor: r.actor, action: r.action, target: r.target,
    detail: JSON.parse(r.detail_json) as Record<string, unknown>,
  }));
  return { items, total: Number(total.n), next: rows.length > limit ? encodeCursor([items.at(-1)!.id]) : null };
}
