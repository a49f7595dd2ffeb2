// Files that ship beside the code — package.json, scripts/, the built console in dist/web —
// are found from the package's root: the nearest folder above this module whose package.json
// is vmbak's. The code runs from the sources (src/<folder>/…) or from the bundle (dist/cli/…),
// at different depths; the root is the same for both.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (packageName(join(dir, 'package.json')) === 'vmbak') return dir;
    if (dirname(dir) === dir) throw new Error(`vmbak's package.json is in no folder above ${from}`);
  }
}

function packageName(path: string): string | null {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { name?: string }).name ?? null;
  } catch {
    return null;
  }
}

let root: string | null = null;

/** The folder holding vmbak's package.json (found once, on first use). */
export function packageRoot(): string {
  return root ??= findPackageRoot(dirname(fileURLToPath(import.meta.url)));
}

/** The version in vmbak's package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
}
