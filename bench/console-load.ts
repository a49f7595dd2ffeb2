// How fast the console is where people feel it, in real Chromium against a real `vmbak serve` on
// loopback whose catalog holds 5 000 VMs on five hosts (as their syncs would write them):
//  - dashboard usable: from navigation to the dashboard's counts shown, with a fresh browser
//    context each time (no cache; the login session already in the tab, as after a login);
//  - VMs filter: from a keystroke in the search box to the table and its count updated, measured
//    inside the page (input event → the count's text changed), over 5 000 VMs.
// Goals (issue 10): dashboard < 1 s, filter < 100 ms. `node bench/console-load.ts`; exits 1 when
// a median misses its goal.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createUser, dataDirPaths, openCatalog, syncHostVms } from '../src/catalog/index.ts';
import type { VmInfo } from '../src/core/index.ts';
import { buildConsole, chromiumUnavailable, launchChromium } from '../test/support/browser.ts';
import { startConsoleServer } from '../test/support/console-server.ts';
import { tempDir } from '../test/support/vmbak-cli.ts';

const VMS = 5000;
const HOSTS = 5;
const RUNS = 5;
const GOALS_MS = { dashboard: 1000, filter: 100 };

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function seedCatalog(dataDir: string): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  const catalog = await openCatalog(dataDirPaths(dataDir).catalog);
  try {
    for (let h = 0; h < HOSTS; h++) {
      const vms: VmInfo[] = [];
      for (let i = h; i < VMS; i += HOSTS) {
        vms.push({ uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, name: `vm-${String(i).padStart(5, '0')}`,
          state: i % 7 === 0 ? 'shutoff' : 'running', host: `host-${h}`, disks: [], tags: i % 10 === 0 ? ['prod'] : [] });
      }
      await syncHostVms(catalog, `host-${h}`, vms);
    }
    await createUser(catalog, 'admin', 'admin', 'admin password 1');
  } finally {
    catalog.close();
  }
}

/** In the page: types `text` into the search box and resolves with the ms until the count changes to `expect`. */
// The page's DOM types are not in this (Node) project: what the probe touches is typed loosely here.
const FILTER_PROBE = ([text, expect]: string[]): Promise<number> => new Promise((resolve) => {
  const g = globalThis as any;
  const doc = g.document;
  const input = doc.querySelector('input[placeholder^="name, UUID"]');
  const count = doc.querySelector('[data-testid="vm-count"]');
  const setValue = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(input), 'value')!.set!;
  const started = performance.now();
  const observer = new g.MutationObserver(() => {
    if (count.textContent === expect) { observer.disconnect(); resolve(performance.now() - started); }
  });
  observer.observe(count, { childList: true, subtree: true, characterData: true });
  setValue.call(input, text);
  input.dispatchEvent(new Event('input', { bubbles: true }));
});

async function main(): Promise<void> {
  const unavailable = chromiumUnavailable();
  if (unavailable) throw new Error(unavailable);
  const tmp = tempDir('console-load');
  const dataDir = join(tmp.dir, 'data');
  const built = buildConsole(join(tmp.dir, 'web'));
  await seedCatalog(dataDir);
  await built;
  const server = await startConsoleServer(dataDir, join(tmp.dir, 'web'), ['--no-local-agent']);
  const browser = await launchChromium();
  try {
    const login = await browser.newContext();
    const page = await login.newPage();
    await page.goto(`${server.base}/vms`);
    await page.getByRole('textbox', { name: 'User name' }).fill('admin');
    await page.getByRole('textbox', { name: 'Password' }).fill('admin password 1');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('vm-count').getByText(`${VMS} of ${VMS} VMs`).waitFor({ timeout: 30_000 });
    const session = await page.evaluate(() => sessionStorage.getItem('vmbak.session'));

    const filterMs: Record<string, number[]> = {};
    const queries: string[][] = [['vm-04999', `1 of ${VMS} VMs`], ['prod', `${VMS / 10} of ${VMS} VMs`], ['', `${VMS} of ${VMS} VMs`], ['host-3', `${VMS / HOSTS} of ${VMS} VMs`], ['', `${VMS} of ${VMS} VMs`]];
    for (let run = 0; run < RUNS; run++) {
      for (const query of queries) (filterMs[query[0] || '(cleared)'] ??= []).push(await page.evaluate(FILTER_PROBE, query));
    }
    await login.close();

    const dashboardMs: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const context = await browser.newContext();
      await context.addInitScript((s) => { if (s) sessionStorage.setItem('vmbak.session', s); }, session);
      const fresh = await context.newPage();
      const started = Date.now();
      await fresh.goto(`${server.base}/`);
      await fresh.getByTestId('count-protected').waitFor({ timeout: 30_000 });
      dashboardMs.push(Date.now() - started);
      await context.close();
    }

    const allFilter = Object.values(filterMs).flat();
    console.log(`dashboard usable (cold context, ${VMS} VMs in the catalog): median ${median(dashboardMs)} ms, runs ${dashboardMs.join(' ')} ms (goal < ${GOALS_MS.dashboard})`);
    for (const [q, xs] of Object.entries(filterMs)) console.log(`VMs filter "${q}": median ${median(xs).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`);
    console.log(`VMs filter over ${VMS} VMs, all queries: median ${median(allFilter).toFixed(1)} ms, max ${Math.max(...allFilter).toFixed(1)} ms (goal < ${GOALS_MS.filter})`);
    if (median(dashboardMs) >= GOALS_MS.dashboard || median(allFilter) >= GOALS_MS.filter) process.exitCode = 1;
  } finally {
    await browser.close();
    await server.stop();
    tmp.remove();
  }
}

await main();
