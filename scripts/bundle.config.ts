// The CLI's bundle, written by `npm run build`: dist/cli/main.js, the chunk workers' entry
// dist/cli/chunk-worker.js beside it (the worker pool finds it there), and one chunk per
// lazily loaded command. Loading a command from ~300 module files cost ~0.15 s of every run
// (a restore of 2 GiB took 2.05–2.29 s from the module tree, 1.93–2.01 s from a bundle).
// bin/vmbak runs the bundle when it is newer than src/, else the TypeScript sources.

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'rolldown';

// Pure-JS packages on the common commands' path, bundled in (zod alone is ~95 files). Every
// other package stays an import from node_modules: some find files or native bindings beside
// their own code (ssh2, pino's transports), which bundling would break.
const BUNDLED = new Set(['zod', 'commander', 'fast-xml-parser', 'fast-xml-builder', 'strnum', 'xml-naming', 'anynum', 'is-unsafe', 'path-expression-matcher', '@nodable/entities']);

function packageOf(id: string): string {
  const parts = id.split('/');
  return id.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

const src = (path: string) => fileURLToPath(new URL(`../src/${path}`, import.meta.url));

export default defineConfig({
  input: { main: src('cli/main.ts'), 'chunk-worker': src('engine/chunk-worker.ts') },
  platform: 'node',
  external: (id) => id.startsWith('node:') || (!id.startsWith('.') && !id.startsWith('/') && !BUNDLED.has(packageOf(id))),
  output: { dir: process.env.VMBAK_BUNDLE_DIR ?? fileURLToPath(new URL('../dist/cli', import.meta.url)), format: 'esm' },
});
