// A directory of small JSON records on this host (run records, job records): written
// atomically (temp + rename) so a crash never leaves half a record, read leniently because a
// record may be mid-rename or damaged (the next reader sees it whole or not at all).

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function writeRecord(dir: string, id: string, record: object): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${id}.json`);
  writeFileSync(`${path}.tmp`, JSON.stringify(record, null, 2));
  renameSync(`${path}.tmp`, path);
  return path;
}

export function removeRecord(dir: string, id: string): void {
  rmSync(join(dir, `${id}.json`), { force: true });
}

/** Every record that passes `isValid`; a missing directory holds none. */
export function readRecords<T>(dir: string, isValid: (value: unknown) => value is T): T[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: T[] = [];
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    try {
      const value: unknown = JSON.parse(readFileSync(join(dir, name), 'utf8'));
      if (isValid(value)) out.push(value);
    } catch { /* mid-rename or damaged: skipped */ }
  }
  return out;
}
