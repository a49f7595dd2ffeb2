// Modification times of objects on an FTP server, as precise as the server offers them.
// stat uses MDTM (RFC 3659: UTC, whole seconds on vsftpd). list uses what the listing
// carries: MLSD's `modify` fact (UTC, seconds or better) when the server has MLST, else the
// date column of a Unix-style LIST, which is only to the minute ("Jan 12 10:33", for the
// last six months) or to the day ("Jan 12  2023", older). A LIST time is taken as UTC
// (vsftpd's default, use_localtime=NO) and rounded down, so the true time lies within the
// following minute (or day). Callers that need seconds stat the object.

import type { Client, FileInfo } from 'basic-ftp';
import { ftpReplyCode } from './ftp-errors.ts';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_MS = 24 * 3600 * 1000;

/** The server's time of a listed entry, or null when the listing has none we can read. */
export function listedModifiedMs(entry: FileInfo, nowMs = Date.now()): number | null {
  if (entry.modifiedAt && !Number.isNaN(entry.modifiedAt.getTime())) return entry.modifiedAt.getTime();
  return parseListDate(entry.rawModifiedAt, nowMs);
}

/** Parses the date column of a Unix-style LIST line. */
export function parseListDate(raw: string, nowMs: number): number | null {
  const iso = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})$/.exec(raw);
  if (iso) return Date.UTC(+iso[1]!, +iso[2]! - 1, +iso[3]!, +iso[4]!, +iso[5]!);
  const unix = /^(\w{3}) +(\d{1,2}) +(?:(\d{1,2}):(\d{2})|(\d{4}))$/.exec(raw);
  if (!unix) return null;
  const month = MONTHS.indexOf(unix[1]!.toLowerCase());
  if (month < 0) return null;
  const day = +unix[2]!;
  if (unix[5] !== undefined) return Date.UTC(+unix[5], month, day);
  // No year: ls prints this form for times in the last six months, so the year is the one
  // that puts the time in the past (a day of slack for clock skew between us and the server).
  const thisYear = new Date(nowMs).getUTCFullYear();
  const candidate = Date.UTC(thisYear, month, day, +unix[3]!, +unix[4]!);
  return candidate > nowMs + DAY_MS ? Date.UTC(thisYear - 1, month, day, +unix[3]!, +unix[4]!) : candidate;
}

/** MDTM of an existing file; null when the server has no MDTM (500/502/504) or answers nonsense. */
export async function mdtmModifiedMs(c: Client, path: string): Promise<number | null> {
  try {
    const ms = (await c.lastMod(path)).getTime();
    return Number.isNaN(ms) ? null : ms;
  } catch (err) {
    const reply = ftpReplyCode(err);
    if (reply === 500 || reply === 502 || reply === 504) return null;
    throw err;
  }
}
