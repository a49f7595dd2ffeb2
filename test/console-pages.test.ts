// The console's restore-point calendar, file browser, create forms and settings page in real
// Chromium against a real `vmbak serve` — no libvirt, no guest: two backups of a disk image
// (GPT: an ext4 partition with files, a LUKS partition), the second one unchanged and so
// incremental, the newest indexed, all made with the CLI; the inventory names the image's VM.
// The calendar tells full (and why) from incremental; the wizard's Files step finds a file
// through the index, downloads it byte-identical and a folder as zip, and shows the server's
// refusal of the LUKS partition with its code. Admins add a repository after its connection
// test, a user with a generated password (who can then log in), a webhook channel (sent a
// test), an email channel and a rule; the settings page shows the server, the care schedule
// and switches times to UTC. A viewer sees none of the create forms. Pages at phone width too; axe-clean throughout.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { createUser, dataDirPaths, openCatalog, syncHostVms } from '../src/catalog/index.ts';
import { jsonLine, tempDir, vmbak } from './support/vmbak-cli.ts';
import { buildDisk, buildExt4, sh } from './support/guest-images.ts';
import { startConsoleServer, warningsOf, type ConsoleServer } from './support/console-server.ts';
import { startWebhookReceiver } from './support/webhook-receiver.ts';
import { buildConsole, chromiumUnavailable, launchChromium, recordConsoleErrors, seriousA11yViolations } from './support/browser.ts';

const tmp = tempDir('console-pages');
const dataDir = join(tmp.dir, 'data');
const repo = join(tmp.dir, 'repo');
const secondRepo = join(tmp.dir, 'second-repo');
const env = { VMBAK_PASSPHRASE: 'web pass', VMBAK_REPO: repo };
const PASSWORD = 'user password 1';
const invoice = randomBytes(300_000);
let unavailable: string | null = null;
let server: ConsoleServer | null = null;
let browser: Browser | null = null;
let base = '';

before(async () => {
  unavailable = chromiumUnavailable();
  if (unavailable) return;
  const built = buildConsole(join(tmp.dir, 'web'));
  const src = join(tmp.dir, 'src');
  mkdirSync(join(src, 'docs', 'old'), { recursive: true });
  writeFileSync(join(src, 'docs', 'invoice-2026-11.pdf'), invoice);
  writeFileSync(join(src, 'docs', 'old', 'note.txt'), 'old note\n');
  buildExt4(join(tmp.dir, 'p1.part'), src, 16);
  const luks = join(tmp.dir, 'luks.part');
  sh('truncate', ['-s', '8M', luks]);
  sh('cryptsetup', ['luksFormat', '--batch-mode', '--type', 'luks1', '--pbkdf-force-iterations', '1000', luks, '-'], 'secret');
  buildDisk(join(tmp.dir, 'web.img'), 26, 'gpt', [{ file: join(tmp.dir, 'p1.part'), sizeMiB: 16 }, { file: luks, sizeMiB: 8 }]);
  assert.equal((await vmbak(['repo', 'init'], env)).code, 0);
  assert.equal((await vmbak(['repo', 'init', '--repo', secondRepo], env)).code, 0);
  let latest = '';
  for (let i = 0; i < 2; i++) {
    const b = await vmbak(['backup', '--image', join(tmp.dir, 'web.img'), '--vm', 'web', '--no-progress', '--json'], env);
    assert.equal(b.code, 0, b.stderr);
    latest = jsonLine<{ backupId: string }>(b).backupId;
  }
  const ix = await vmbak(['index', latest], env);
  assert.equal(ix.code, 0, ix.stderr);
  writeFileSync(join(tmp.dir, 'repo.pass'), 'web pass\n');
  writeFileSync(join(tmp.dir, 'vmbak.yaml'), `repositories:\n  - { name: local, url: ${repo}, passphraseFile: repo.pass }\npolicies: []\n`);
  mkdirSync(dataDir, { recursive: true });
  const catalog = await openCatalog(dataDirPaths(dataDir).catalog);
  try {
    // Image backups are keyed by the VM's name: the inventory lists the VM under that key.
    await syncHostVms(catalog, 'host-a', [{ uuid: 'web', name: 'web', state: 'shutoff', host: 'host-a', disks: [], tags: [] }]);
    for (const role of ['admin', 'viewer'] as const) await createUser(catalog, role, role, PASSWORD);
  } finally {
    await catalog.close();
  }
  await built;
  server = await startConsoleServer(dataDir, join(tmp.dir, 'web'), ['--config', join(tmp.dir, 'vmbak.yaml'), '--no-local-agent', '--rebuild-catalog']);
  base = server.base;
  browser = await launchChromium();
}, { timeout: 180_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
  tmp.remove();
}, { timeout: 60_000 });

async function checkPage(page: Page, heading: string | RegExp): Promise<void> {
  await page.getByRole('heading', { level: 1, name: heading }).waitFor({ timeout: 15_000 });
  await page.locator('.mantine-Loader-root').first().waitFor({ state: 'detached', timeout: 15_000 }).catch(() => undefined);
  assert.deepEqual(await seriousA11yViolations(page), [], `axe on ${page.url()}`);
}

async function logIn(page: Page, path: string, name: string, heading: string): Promise<void> {
  await page.goto(`${base}${path}`);
  await page.getByLabel('User name').fill(name);
  await page.getByRole('textbox', { name: 'Password' }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await checkPage(page, heading);
}

/** Whether the page is no wider than the viewport (nothing to scroll sideways). */
const fitsWidth = (page: Page, widthPx: number): Promise<boolean> =>
  page.evaluate((w) => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth <= w + 1, widthPx);

const nav = (page: Page, link: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link }).click();

test('restore points as a calendar; the Files step finds, browses and downloads, and refuses LUKS with its code', { timeout: 180_000 }, async (t) => {
  if (unavailable) return t.skip(unavailable);
  const startedMs = Date.now();
  const context = await browser!.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const consoleErrors = recordConsoleErrors(page);
  page.on('response', (r) => { if (r.status() >= 400) t.diagnostic(`${r.status()} from ${r.url()}`); });
  t.after(async () => {
    if (!page.isClosed()) t.diagnostic(`page ${page.url()} showed: ${(await page.locator('body').innerText().catch(() => '')).slice(0, 3000)}`);
  });
  await logIn(page, '/vms/web', 'admin', 'VM web');

  // The calendar: both points on today's (picked) day, the first full and why, the second incremental.
  const calendar = page.getByRole('region', { name: 'Restore points calendar' });
  const cards = calendar.getByTestId('restore-point');
  await cards.first().waitFor();
  assert.equal(await cards.count(), 2);
  assert.match(await cards.nth(0).textContent() ?? '', /full \(.+\)/, 'a full backup says why');
  assert.match(await cards.nth(1).textContent() ?? '', /incremental/);
  assert.equal(await calendar.getByRole('button', { name: /: 2 restore points$/, pressed: true }).count(), 1);
  assert.match(await page.getByTestId('restore-points').locator('tbody tr').first().textContent() ?? '', /incremental/);

  // The newest (indexed) point's files: search, open the folder, download a file and a folder.
  await cards.nth(1).getByRole('button', { name: /^Browse the files of / }).click();
  const wizard = page.getByRole('dialog');
  await wizard.getByRole('textbox', { name: 'Find a file' }).fill('invoice');
  await wizard.getByRole('button', { name: 'Search' }).click();
  await wizard.getByTestId('file-hits').getByText('/docs/invoice-2026-11.pdf').waitFor();
  await wizard.getByRole('button', { name: 'Open folder of /docs/invoice-2026-11.pdf' }).click();
  const entries = wizard.getByTestId('file-entries');
  await entries.getByText('invoice-2026-11.pdf').waitFor({ timeout: 90_000 }); // the appliance starts here
  t.diagnostic(`first folder listed ${((Date.now() - startedMs) / 1000).toFixed(1)} s into the test`);
  assert.deepEqual(await seriousA11yViolations(page), [], 'axe on the file browser');
  await wizard.getByRole('checkbox', { name: 'Select invoice-2026-11.pdf' }).check();
  const [file] = await Promise.all([page.waitForEvent('download'), wizard.getByRole('button', { name: 'Download 1 selected' }).click()]);
  assert.equal(file.suggestedFilename(), 'invoice-2026-11.pdf');
  assert.ok(readFileSync((await file.path())!).equals(invoice), 'the downloaded file is the one backed up');
  await wizard.getByRole('checkbox', { name: 'Select invoice-2026-11.pdf' }).uncheck();
  await wizard.getByRole('checkbox', { name: 'Select old' }).check();
  await wizard.getByText('folders as zip').click();
  const [folder] = await Promise.all([page.waitForEvent('download'), wizard.getByRole('button', { name: 'Download 1 selected' }).click()]);
  assert.equal(readFileSync((await folder.path())!).subarray(0, 2).toString(), 'PK', 'a folder comes as zip');
  await entries.getByRole('button', { name: 'old/' }).click();
  await wizard.getByTestId('file-entries').getByText('note.txt').waitFor();

  // The LUKS partition: the server's one line, with its code.
  await wizard.getByRole('button', { name: 'Filesystems' }).click();
  await wizard.getByTestId('filesystems').getByText('crypto_LUKS').waitFor();
  consoleErrors.allow(/status of 4\d\d/);
  await wizard.getByRole('button', { name: /^Browse .*\/p2$/ }).click();
  const refusal = wizard.getByRole('alert').filter({ hasText: 'FILESYSTEM_UNSUPPORTED' });
  await refusal.waitFor();
  assert.match(await refusal.textContent() ?? '', /LUKS/);
  consoleErrors.allow(null);
  assert.deepEqual(await seriousA11yViolations(page), [], 'axe on the refusal');
  await wizard.getByRole('button', { name: 'Close', exact: true }).last().click();

  // At phone width the calendar and the page stay usable and axe-clean.
  await page.setViewportSize({ width: 390, height: 844 });
  await checkPage(page, 'VM web');
  assert.ok(await fitsWidth(page, 390), 'no sideways scrolling at phone width');
  // The older point is not indexed: the Files step says so and offers to index it.
  await page.getByTestId('restore-point').nth(0).getByRole('button', { name: /^Browse the files of / }).click();
  await page.getByRole('dialog').getByText('This backup is not indexed').waitFor();
  await page.getByRole('dialog').getByRole('button', { name: 'Index this backup' }).waitFor();
  assert.deepEqual(await seriousA11yViolations(page), [], 'axe on the file browser at phone width');
  assert.ok(await fitsWidth(page, 390), 'the file browser fits a phone');
  await context.close();
  assert.deepEqual(consoleErrors.errors, [], 'no console errors');
  t.diagnostic(`browser part took ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
});

test('admins add a repository (tested first), a user, a channel and a rule; the settings page; a viewer sees no create form', { timeout: 120_000 }, async (t) => {
  if (unavailable) return t.skip(unavailable);
  const startedMs = Date.now();
  const hook = await startWebhookReceiver(t);
  const hooks = hook.paths;
  const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const consoleErrors = recordConsoleErrors(page);
  t.after(async () => {
    if (!page.isClosed()) t.diagnostic(`page ${page.url()} showed: ${(await page.locator('body').innerText().catch(() => '')).slice(0, 3000)}`);
  });
  await logIn(page, '/repositories', 'admin', 'Repositories');

  // A repository: Add is offered only once its connection test passed.
  await page.getByTestId('care-schedule').getByRole('row').filter({ hasText: 'local' }).first().waitFor();
  await page.getByRole('textbox', { name: 'Repository name' }).fill('second');
  await page.getByRole('textbox', { name: 'Location' }).fill(secondRepo);
  await page.getByLabel('Passphrase').fill('web pass');
  assert.ok(await page.getByRole('button', { name: 'Add repository' }).isDisabled(), 'not before the test');
  await page.getByRole('button', { name: 'Test connection' }).click();
  await page.getByTestId('connection-result').getByText('Connected').waitFor();
  await page.getByRole('button', { name: 'Add repository' }).click();
  await page.getByRole('status').getByText('Repository second added.').waitFor();
  await page.getByRole('row').filter({ hasText: secondRepo }).waitFor();
  assert.equal(await page.getByTestId('care-schedule').getByRole('row').filter({ hasText: 'second' }).count(), 3, 'its care schedule: verify new, verify all, gc');
  await checkPage(page, 'Repositories');

  // A user with a generated password, who can log in with it; a short password is refused with its code.
  await nav(page, 'Users and tokens');
  await checkPage(page, 'Users and tokens');
  await page.getByRole('textbox', { name: 'User name' }).fill('carol');
  await page.getByRole('textbox', { name: 'Initial password' }).fill('short');
  consoleErrors.allow(/status of 400/);
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.getByRole('alert').filter({ hasText: 'INVALID_REQUEST' }).waitFor();
  consoleErrors.allow(null);
  await page.getByRole('combobox', { name: 'User role' }).click();
  await page.getByRole('option', { name: /^operator/ }).click();
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.getByRole('button', { name: 'Create user' }).click();
  const generated = (await page.getByTestId('new-password').textContent())!.trim();
  await page.getByTestId('users').getByRole('row').filter({ hasText: 'carol' }).filter({ hasText: 'operator' }).waitFor();
  const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'carol', password: generated }) });
  assert.equal(login.status, 200);
  assert.equal(((await login.json()) as { user: { role: string } }).user.role, 'operator');
  await checkPage(page, 'Users and tokens');

  // A webhook channel, sent a test; a rule routing failed jobs to it.
  await nav(page, 'Alerts');
  await checkPage(page, 'Alerts');
  await page.getByRole('textbox', { name: 'Channel name' }).fill('hook');
  await page.getByRole('textbox', { name: 'Webhook URL' }).fill(hook.url);
  await page.getByRole('button', { name: 'Add channel' }).click();
  await page.getByTestId('channels').getByRole('row').filter({ hasText: 'hook' }).waitFor();
  await page.getByRole('button', { name: 'Send test to hook' }).click();
  await page.getByRole('status').getByText(/^Sent/).waitFor();
  assert.ok(hooks.length >= 1, 'the webhook got the test');
  await page.getByText('Email (SMTP)').click();
  await page.getByRole('textbox', { name: 'Channel name' }).fill('ops-mail');
  await page.getByRole('textbox', { name: 'SMTP server' }).fill('smtp.example.com');
  await page.getByRole('textbox', { name: 'From' }).fill('vmbak@example.com');
  await page.getByRole('textbox', { name: 'To', exact: true }).fill('ops@example.com, oncall@example.com');
  await page.getByRole('button', { name: 'Add channel' }).click();
  await page.getByTestId('channels').getByRole('row').filter({ hasText: 'ops-mail' }).filter({ hasText: 'smtp.example.com' }).waitFor();
  await page.getByRole('textbox', { name: 'Rule name' }).fill('failures');
  await page.getByRole('combobox', { name: 'To channels' }).click();
  await page.getByRole('option', { name: 'hook' }).click();
  await page.keyboard.press('Escape');
  await page.getByRole('button', { name: 'Add rule' }).click();
  await page.getByTestId('rules').getByRole('row').filter({ hasText: 'failures' }).filter({ hasText: 'job.failed' }).waitFor();
  await checkPage(page, 'Alerts');

  // Settings: the server's facts, the care schedule, times in UTC, the theme.
  await nav(page, 'Settings');
  await checkPage(page, 'Settings');
  assert.match(await page.getByTestId('server-info').textContent() ?? '', new RegExp(`vmbak \\d+\\.\\d+\\.\\d+.*${dataDir.replaceAll('/', '\\/')}.*SQLite`));
  await page.getByTestId('hosts').getByText('host-a').waitFor();
  const nextVerify = page.getByTestId('care-schedule').getByRole('row').filter({ hasText: 'local' }).filter({ hasText: 'verify new' });
  assert.doesNotMatch(await nextVerify.textContent() ?? '', /UTC/);
  await page.getByText('UTC', { exact: true }).click();
  await nextVerify.getByText(/UTC/).waitFor();
  await page.getByText('Dark', { exact: true }).click();
  assert.equal(await page.locator('html').getAttribute('data-mantine-color-scheme'), 'dark');
  await checkPage(page, 'Settings');
  await page.getByText('Light', { exact: true }).click();
  await page.getByText(/^Local time/).click();

  // Phone width: the new pages fit and stay axe-clean.
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [path, heading] of [['/settings', 'Settings'], ['/alerts', 'Alerts'], ['/users', 'Users and tokens'], ['/repositories', 'Repositories']] as const) {
    await page.goto(`${base}${path}`);
    await checkPage(page, heading);
    assert.ok(await fitsWidth(page, 390), `no sideways scrolling on ${path} at phone width`);
  }

  // A viewer: the lists, no create form.
  const viewerContext = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
  const viewer = await viewerContext.newPage();
  const viewerErrors = recordConsoleErrors(viewer);
  await logIn(viewer, '/alerts', 'viewer', 'Alerts');
  await viewer.getByTestId('channels').waitFor();
  assert.equal(await viewer.getByRole('button', { name: /^Add / }).count(), 0, 'no Add channel or rule');
  await nav(viewer, 'Repositories');
  await checkPage(viewer, 'Repositories');
  await viewer.getByTestId('care-schedule').waitFor();
  assert.equal(await viewer.getByRole('button', { name: /Add repository|Test connection/ }).count(), 0);
  await nav(viewer, 'Settings');
  await checkPage(viewer, 'Settings');
  await nav(viewer, 'VMs');
  await viewer.getByRole('link', { name: 'web' }).click();
  await checkPage(viewer, 'VM web');
  await viewer.getByTestId('restore-point').first().getByRole('button', { name: /^Browse the files of / }).waitFor();
  assert.equal(await viewer.getByRole('button', { name: /^Restore/ }).count(), 0, 'a viewer restores nothing');
  await viewerContext.close();

  await context.close();
  assert.deepEqual([...consoleErrors.errors, ...viewerErrors.errors], [], 'no console errors');
  t.diagnostic(`browser part took ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
});

process.on('exit', (code) => { if (code !== 0 && server) process.stderr.write(`--- vmbak serve: warnings and errors ---\n${warningsOf(server.log())}\n`); });
