// Files that ship beside the code — package.json, scripts/, the built console in dist/web —
// are found from the package's root: the nearest folder above this module whose package.json
// is vmbak's. The code runs from the sources (src/<folder>/…) or from the bundle (dist/cli/…),
// at different depths; the root is the same for both.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface PackageJson { readonly name?: string; readonly version?: string }

/** The nearest folder above `from` holding vmbak's package.json, with that file read. */
function findPackage(from: string): { readonly dir: string; readonly json: PackageJson } {
  for (let dir = from; ; dir = dirname(dir)) {
    const json = readPackageJson(join(dir, 'package.json'));
    if (json?.name === 'vmbak') return { dir, json };
    if (dirname(dir) === dir) throw new Error(`vmbak's package.json is in no folder above ${from}`);
  }
}

function readPackageJson(path: string): PackageJson | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as PackageJson;
  } catch {
    return null;
  }
}

let found: ReturnType<typeof findPackage> | null = null;
const ownPackage = () => found ??= findPackage(dirname(fileURLToPath(import.meta.url)));

/** The folder holding vmbak's package.json (found once, on first use). */
export function packageRoot(): string {
  return ownPackage().dir;
}

/** The version in vmbak's package.json. */
export function packageVersion(): string {
  return ownPackage().json.version ?? 'unknown';
}
