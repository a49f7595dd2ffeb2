// Guards the shape of the code: dependencies point inward (core ← nbd/targets ← repository/
// hypervisors ← engine ← jobs/catalog ← services/config/alerts ← controller ← server/cli), modules reach each other only
// through their index.ts (or thread-entry.ts, a lighter entry for worker threads: every module
// a worker loads is heap that each of its garbage collections marks), and no import cycle
// exists between files. Each hypervisor adapter (hypervisors/libvirt, later hypervisors/
// vsphere) is a module of its own beside hypervisors/, which holds what adapters share (image
// files through qemu-nbd): the engine and the services reach platforms only through core's
// Hypervisor interface and the adapters' index.ts. The web console (web/src) reaches the
// controller only through the REST API: it imports nothing outside web/, and its features reach
// the API client only through web/src/api/index.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');
const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '../web');
const WEB_API = join(WEB, 'src/api');
const RANK: Record<string, number> = {
  core: 0, host: 1, nbd: 1, targets: 1, repository: 2, hypervisors: 2, 'hypervisors/libvirt': 2, engine: 3, jobs: 4, catalog: 4,
  services: 5, files: 5, config: 5, alerts: 5, controller: 6, server: 7, agent: 7, cli: 7,
};
/** Folders inside a module that are modules of their own. */
const SUBMODULES = new Set(['hypervisors/libvirt']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith('.ts') && !full.endsWith('.test.ts') ? [full] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);
  specs.push(...[...text.matchAll(/new Worker\(new URL\('(\.[^']+\.ts)', import\.meta\.url\)/g)].map((m) => m[1]!));
  return specs.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(file), s));
}

function moduleOf(file: string): string {
  const [top, sub] = relative(SRC, file).split('/');
  return SUBMODULES.has(`${top}/${sub}`) ? `${top}/${sub}` : top!;
}
const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));

test('every source folder is a known module', () => {
  for (const f of files) assert.ok(moduleOf(f) in RANK, `${relative(SRC, f)} is in no known module`);
});

test('dependencies point inward and cross modules only through index.ts or thread-entry.ts', () => {
  const problems: string[] = [];
  for (const [file, deps] of graph) {
    for (const dep of deps) {
      const from = moduleOf(file);
      const to = moduleOf(dep);
      if (from === to) continue;
      if (RANK[to]! > RANK[from]!) problems.push(`${relative(SRC, file)} imports outward: ${relative(SRC, dep)}`);
      if (!dep.endsWith(`${to}/index.ts`) && !dep.endsWith(`${to}/thread-entry.ts`)) {
        problems.push(`${relative(SRC, file)} reaches into ${relative(SRC, dep)} instead of ${to}/index.ts`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('outside the adapters, only the services\' adapter registry names a hypervisor adapter', () => {
  const reaching = [...graph].filter(([file, deps]) => !moduleOf(file).startsWith('hypervisors')
    && deps.some((d) => SUBMODULES.has(moduleOf(d)) && moduleOf(d).startsWith('hypervisors/')));
  assert.deepEqual(reaching.map(([file]) => relative(SRC, file)), ['services/hypervisors.ts']);
});

test('no import cycles between files', () => {
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'visiting') {
      cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(' → '));
      return;
    }
    state.set(file, 'visiting');
    for (const dep of graph.get(file) ?? []) visit(dep, [...path, file]);
    state.set(file, 'done');
  };
  for (const f of files) visit(f, []);
  assert.deepEqual(cycles, []);
});

function webFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return webFiles(full);
    return /\.tsx?$/.test(full) ? [full] : [];
  });
}

test('the web console imports nothing outside web/ and reaches the API only through web/src/api/index.ts', () => {
  const problems: string[] = [];
  for (const file of webFiles(join(WEB, 'src'))) {
    const text = readFileSync(file, 'utf8');
    const lazyOrBare = [...text.matchAll(/(?:import\(|^import\s+)'(\.[^']+)'/gm)].map((m) => resolve(dirname(file), m[1]!));
    for (const dep of [...importsOf(file), ...lazyOrBare]) {
      if (!dep.startsWith(`${WEB}/`)) problems.push(`${relative(WEB, file)} imports ${relative(WEB, dep)}, outside web/`);
      else if (dep.startsWith(`${WEB_API}/`) && !file.startsWith(`${WEB_API}/`) && dep !== join(WEB_API, 'index.ts')) {
        problems.push(`${relative(WEB, file)} reaches into ${relative(WEB, dep)} instead of src/api/index.ts`);
      }
    }
  }
  assert.deepEqual(problems, []);
});
