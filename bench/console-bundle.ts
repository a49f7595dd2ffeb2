// How much JavaScript and CSS the console's first pages make a browser load, gzip-compressed
// as the server sends them: the login page (the entry chunk and what it imports statically)
// and the dashboard (that, plus the usage chart it loads lazily). Reads the Vite manifest of
// a build (`npm run build:web` writes dist/web). `npm run bench:web`; exits 1 over the budget.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const BUDGET_BYTES = 400 * 1024;

interface Chunk { file: string; src?: string; isEntry?: boolean; imports?: string[]; dynamicImports?: string[]; css?: string[] }

export interface PageCost { readonly page: string; readonly jsGzipBytes: number; readonly cssGzipBytes: number; readonly files: string[] }

/** The files a page loads: `roots` and their static imports, with the CSS of each. */
function closure(manifest: Record<string, Chunk>, roots: string[]): { js: Set<string>; css: Set<string> } {
  const js = new Set<string>();
  const css = new Set<string>();
  const visit = (key: string): void => {
    const chunk = manifest[key]!;
    if (js.has(chunk.file)) return;
    js.add(chunk.file);
    chunk.css?.forEach((c) => css.add(c));
    chunk.imports?.forEach(visit);
  };
  roots.forEach(visit);
  return { js, css };
}

const gzipBytes = (dir: string, files: Iterable<string>): number =>
  [...files].reduce((sum, f) => sum + gzipSync(readFileSync(join(dir, f)), { level: 9 }).length, 0);

export function consolePageCosts(dir: string): PageCost[] {
  const manifest = JSON.parse(readFileSync(join(dir, '.vite/manifest.json'), 'utf8')) as Record<string, Chunk>;
  const entry = Object.keys(manifest).find((k) => manifest[k]!.isEntry)!;
  const chart = Object.keys(manifest).find((k) => k.endsWith('features/dashboard/UsageChart.tsx'))!;
  return [['login', [entry]], ['dashboard', [entry, chart]]].map(([page, roots]) => {
    const { js, css } = closure(manifest, roots as string[]);
    return { page: page as string, jsGzipBytes: gzipBytes(dir, js), cssGzipBytes: gzipBytes(dir, css), files: [...js, ...css] };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? fileURLToPath(new URL('../dist/web', import.meta.url));
  const costs = consolePageCosts(dir);
  for (const c of costs) {
    console.log(`${c.page.padEnd(10)} JS ${(c.jsGzipBytes / 1024).toFixed(1).padStart(6)} KiB gzip   CSS ${(c.cssGzipBytes / 1024).toFixed(1).padStart(5)} KiB gzip   (budget for JS ${BUDGET_BYTES / 1024} KiB)`);
  }
  if (costs.some((c) => c.jsGzipBytes > BUDGET_BYTES)) process.exit(1);
}
