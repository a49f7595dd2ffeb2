// The API's list form, {items, total, next}: `limit` (1–1000, default 50) and an opaque
// `cursor` from the previous page's `next`. Catalog lists that page in SQL pass these
// through; short lists the catalog returns whole (policies, repositories, VMs …) are paged
// here by a keyset over a sort key, so a cursor stays valid while items are added.

import { z } from 'zod';
import { VmbakError } from '../core/index.ts';

export const pageQueryFields = {
  limit: z.coerce.number().int().min(1).max(1000).default(50).describe('items per page'),
  cursor: z.string().min(1).optional().describe('`next` of the previous page'),
};

export const pageQuery = z.strictObject(pageQueryFields);

export const pageOf = <T extends z.ZodType>(item: T) => z.object({
  items: z.array(item),
  total: z.number().int().describe('items matching the filters, in all pages'),
  next: z.string().nullable().describe('cursor of the next page; null on the last'),
});

export interface PageResult<T> { items: T[]; total: number; next: string | null }

/** A page of `all` ordered by `keyOf` (unique per item). */
export function pageArray<T>(all: readonly T[], keyOf: (item: T) => string, req: { limit: number; cursor?: string | undefined }): PageResult<T> {
  const sorted = [...all].sort((a, b) => compare(keyOf(a), keyOf(b)));
  const after = req.cursor === undefined ? null : decode(req.cursor);
  const start = after === null ? 0 : sorted.findIndex((item) => compare(keyOf(item), after) > 0);
  const rest = start < 0 ? [] : sorted.slice(start);
  const items = rest.slice(0, req.limit);
  return { items, total: all.length, next: rest.length > req.limit ? encode(keyOf(items.at(-1)!)) : null };
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const encode = (key: string): string => Buffer.from(JSON.stringify([key])).toString('base64url');

function decode(cursor: string): string {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === 1 && typeof key[0] === 'string') return key[0];
  } catch { /* falls through */ }
  throw new VmbakError('INVALID_REQUEST', { field: 'query.cursor', detail: 'not a cursor this list handed out' });
}
