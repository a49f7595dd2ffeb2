// The VMs page with 5 000 VMs in real Chromium against a real `vmbak serve` (no local agent;
// the inventory is written into the catalog first, as five hosts' syncs would): all are
// loaded, only the rows in view are in the DOM, search, filter and sort work on the whole
// list, and scrolling reaches the last VM.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { createUser, dataDirPaths, openCatalog, syncHostVms } from '../src/catalog/index.ts';
import type { VmInfo } from '../src/core/index.ts';
import { tempDir } from './support/vmbak-cli.ts';
import { startConsoleServer, warningsOf, type ConsoleServer } from './support/console-server.ts';
import { buildConsole, chromiumUnavailable, launchChromium, recordConsoleErrors, seriousA11yViolations } from './support/browser.ts';

const VMS = 5000;
const HOSTS = 5;
const tmp = tempDir('console-vms');
const dataDir = join(tmp.dir, 'data');
let unavailable: string | null = null;
let server: ConsoleServer | null = null;
let browser: Browser | null = null;

const vmName = (i: number) => `vm-${String(i).padStart(5, '0')}`;

before(async () => {
  unavailable = chromiumUnavailable();
  if (unavailable) return;
  const built = buildConsole(join(tmp.dir, 'web'));
  mkdirSync(dataDir, { recursive: true });
  const catalog = await openCatalog(dataDirPaths(dataDir).catalog);
  try {
    for (let h = 0; h < HOSTS; h++) {
      const vms: VmInfo[] = [];
      for (let i = h; i < VMS; i += HOSTS) {
        vms.push({ uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, name: vmName(i), state: i % 7 === 0 ? 'shutoff' : 'running',
          host: `host-${h}`, disks: [], tags: i % 10 === 0 ? ['prod'] : [] });
      }
      await syncHostVms(catalog, `host-${h}`, vms);
    }
    await createUser(catalog, 'admin', 'admin', 'admin password 1');
  } finally {
    catalog.close();
  }
  await built;
  server = await startConsoleServer(dataDir, join(tmp.dir, 'web'), ['--no-local-agent']);
  browser = await launchChromium();
}, { timeout: 120_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
  tmp.remove();
}, { timeout: 60_000 });

test('5 000 VMs: loaded whole, rendered in view only, searched, filtered, sorted and scrolled to the end', { timeout: 120_000 }, async (t) => {
  if (unavailable) return t.skip(unavailable);
  const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const consoleErrors = recordConsoleErrors(page);
  await page.goto(`${server!.base}/vms`);
  await page.getByRole('textbox', { name: 'User name' }).fill('admin');
  await page.getByRole('textbox', { name: 'Password' }).fill('admin password 1');
  const startedMs = Date.now();
  await page.getByRole('button', { name: 'Log in' }).click();
  const count = page.getByTestId('vm-count');
  await count.getByText(`${VMS} of ${VMS} VMs`).waitFor({ timeout: 30_000 });
  t.diagnostic(`login to a table of ${VMS} VMs: ${Date.now() - startedMs} ms`);
  const rows = page.locator('main tbody tr:not([aria-hidden])');
  const rendered = await rows.count();
  assert.ok(rendered > 10 && rendered < 100, `only the rows in view are rendered (${rendered})`);
  assert.deepEqual(await seriousA11yViolations(page), []);

  await page.getByLabel('Search').fill('vm-04999');
  await count.getByText(`1 of ${VMS} VMs`).waitFor();
  assert.equal(await rows.count(), 1);
  await page.getByLabel('Search').fill('prod');
  await count.getByText(`${VMS / 10} of ${VMS} VMs`).waitFor();
  await page.getByLabel('Search').fill('');
  await page.getByRole('combobox', { name: 'State' }).click();
  await page.getByRole('option', { name: 'shutoff' }).click();
  await count.getByText(`${Math.ceil(VMS / 7)} of ${VMS} VMs`).waitFor();
  await page.getByRole('combobox', { name: 'State' }).press('Escape');
  await page.getByRole('button', { name: /^Name/ }).click(); // sorted by name already: now descending
  assert.equal(await rows.first().locator('td').first().textContent(), vmName(4998), 'the last shut-off VM by name first');
  await page.getByRole('button', { name: /^Name/ }).click();
  await page.getByRole('region', { name: 'VMs table' }).evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
  await page.getByRole('link', { name: vmName(4998) }).waitFor();
  assert.ok(await rows.count() < 100, 'still only the rows in view');
  await context.close();
  assert.deepEqual(consoleErrors.errors, []);
});

process.on('exit', (code) => { if (code !== 0 && server) process.stderr.write(`--- vmbak serve: warnings and errors ---\n${warningsOf(server.log())}\n`); });
