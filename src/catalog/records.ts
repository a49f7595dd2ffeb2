// Shapes every catalog list and upsert shares: a page of a list ({items, total, next}, the
// API's list form), keyset cursors (stable under inserts, unlike offsets), and the outcome of
// an upsert, which lets `applyConfig` prove that applying the same file twice changes nothing.

import { VmbakError } from '../core/index.ts';
import type { Flag } from './schema.ts';

export interface Page<T> {
  readonly items: T[];
  /** How many items match the filter in all pages. */
  readonly total: number;
  /** The cursor of the next page, or null on the last one. */
  readonly next: string | null;
}

export interface PageRequest {
  /** Items per page (default 50, at most 1000). */
  readonly limit?: number;
  readonly cursor?: string | null;
}

export type ChangeKind = 'created' | 'updated' | 'unchanged';

/**
 * What a name made through the API or the CLI (token, user, policy, repository, channel, rule)
 * may be: letters, digits, ".", "_" and "-", starting with a letter or digit — as in the
 * config file. No ":", so nothing can pose as a login session ("session:<user>:…").
 */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function pageLimit(req: PageRequest | undefined): number {
  const limit = req?.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new VmbakError('USAGE', { detail: `page limit ${limit}: give a whole number from 1 to 1000` });
  }
  return limit;
}

/** An opaque cursor holding the sort key of the last item of a page. */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(cursor: string, shape: readonly ('string' | 'number')[]): (string | number)[] {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === shape.length && key.every((v, i) => typeof v === shape[i])) return key;
  } catch { /* falls through */ }
  throw new VmbakError('USAGE', { detail: `cursor ${cursor} is not one this list handed out` });
}

export const toFlag = (value: boolean): Flag => (value ? 1 : 0);
export const fromFlag = (value: number): boolean => value !== 0;
