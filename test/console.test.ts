// The web console in real Chromium against a real `vmbak serve` (its own data dir, a local
// repository, one shut-off libvirt test VM): the login page sends nothing before login; an
// admin creates a policy in the form (a bad cron first: the server's reason shows under the
// field), runs it now, watches the job finish live, finds the backup on the VM's page and
// asks for its restore through the wizard; a failed job's error text is shown; a viewer, logging in by
// keyboard alone, sees no button that changes anything; logging out ends the session on the
// server. axe-core finds no serious or critical violation on any page visited, in light and
// dark, and no page logs a console error.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { createTestVm, destroyAllTestVms, ensureLibvirt, type TestVm } from './support/libvirt.ts';
import { tempDir, vmbak } from './support/vmbak-cli.ts';
import { startConsoleServer, warningsOf, type ConsoleServer } from './support/console-server.ts';
import { buildConsole, chromiumUnavailable, launchChromium, recordConsoleErrors, seriousA11yViolations } from './support/browser.ts';

const tmp = tempDir('console');
const dataDir = join(tmp.dir, 'data');
const consoleDir = join(tmp.dir, 'web');
const repo = join(tmp.dir, 'repo');
const restoreDir = join(tmp.dir, 'restore');
const tag = `web${randomBytes(3).toString('hex')}`;
const PASSWORDS = { admin: 'admin password 1', viewer: 'viewer password 1' };
let unavailable: string | null = null;
let vm: TestVm;
let server: ConsoleServer | null = null;
let browser: Browser | null = null;
let base = '';
let adminToken = '';

before(async () => {
  unavailable = chromiumUnavailable() ?? await ensureLibvirt();
  if (unavailable) return;
  const built = buildConsole(consoleDir);
  vm = await createTestVm({ namePrefix: 'vmbak-web', tags: [tag], start: 'defined', disks: [{ target: 'vda', format: 'qcow2', sizeBytes: 16 << 20 }] });
  assert.equal((await vmbak(['repo', 'init', '--repo', repo], { VMBAK_PASSPHRASE: 'web pass' })).code, 0);
  writeFileSync(join(tmp.dir, 'repo.pass'), 'web pass\n');
  writeFileSync(join(tmp.dir, 'vmbak.yaml'), `repositories:\n  - { name: local, url: ${repo}, passphraseFile: repo.pass }\npolicies: []\n`);
  for (const role of ['admin', 'viewer'] as const) {
    writeFileSync(join(tmp.dir, `${role}.pw`), PASSWORDS[role]);
    const made = await vmbak(['user', 'create', '--data-dir', dataDir, '--name', role, '--role', role, '--password-file', join(tmp.dir, `${role}.pw`)]);
    assert.equal(made.code, 0, made.stderr);
  }
  adminToken = (await vmbak(['token', 'create', '--data-dir', dataDir, '--role', 'admin', '--name', 'test'])).stdout.trim().split('\n').at(-1)!;
  await built;
  server = await startConsoleServer(dataDir, consoleDir, ['--config', join(tmp.dir, 'vmbak.yaml'), '--streams', '1']);
  base = server.base;
  browser = await launchChromium();
}, { timeout: 180_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
  await destroyAllTestVms();
  tmp.remove();
}, { timeout: 60_000 });

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function apiAsAdmin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method, headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
  return (await res.json()) as T;
}

/** Waits for the page's heading, then checks it with axe-core. */
async function checkPage(page: Page, heading: string | RegExp, visited: string[]): Promise<void> {
  await page.getByRole('heading', { level: 1, name: heading }).waitFor({ timeout: 15_000 });
  await page.locator('.mantine-Loader-root').first().waitFor({ state: 'detached', timeout: 15_000 }).catch(() => undefined);
  const violations = await seriousA11yViolations(page);
  assert.deepEqual(violations, [], `axe on ${page.url()} (${String(heading)})`);
  visited.push(new URL(page.url()).pathname);
}

/** Logs in on the login page; the console then opens the page the address asked for. */
async function logIn(page: Page, name: string, password: string, landing: string): Promise<void> {
  await page.getByLabel('User name').fill(name);
  await page.getByRole('textbox', { name: 'Password' }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { level: 1, name: landing }).waitFor();
}

test('the console: login, a policy made in the form, run now, the backup on the VM page, a failed job, a viewer', { timeout: 240_000 }, async (t) => {
  if (unavailable) return t.skip(unavailable);
  const startedMs = Date.now();
  const visited: string[] = [];
  const context = await browser!.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const consoleErrors = recordConsoleErrors(page);
  t.after(async () => {
    // What the page showed when a step failed, for the reader of the test output.
    if (consoleErrors.errors.length > 0) t.diagnostic(`console errors: ${consoleErrors.errors.join(' | ')}`);
    if (!page.isClosed()) t.diagnostic(`page ${page.url()} showed: ${(await page.locator('body').innerText().catch(() => '')).slice(0, 4000)}`);
  });

  // Before login: the page loads its own files and asks the API nothing.
  const apiBeforeLogin: string[] = [];
  const onRequest = (r: { url(): string }) => { if (new URL(r.url()).pathname.startsWith('/api/')) apiBeforeLogin.push(r.url()); };
  page.on('request', onRequest);
  await page.goto(`${base}/policies`);
  await checkPage(page, 'vmbak', visited);
  assert.deepEqual(apiBeforeLogin, [], 'no API request before login');
  page.off('request', onRequest);
  await logIn(page, 'admin', PASSWORDS.admin, 'Policies');
  await checkPage(page, 'Policies', visited);
  assert.equal(await page.getByTestId('role').textContent(), 'admin');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
  await checkPage(page, 'Dashboard', visited);

  // A policy from the form: the server's reason for a bad cron shows, with its code.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Policies' }).click();
  await checkPage(page, 'Policies', visited);
  await page.getByRole('link', { name: 'New policy' }).click();
  await checkPage(page, 'New policy', visited);
  await page.getByRole('textbox', { name: 'Name', exact: true }).fill('nightly');
  await page.getByRole('combobox', { name: 'VMs' }).fill(`tag:${tag}`);
  await page.getByRole('combobox', { name: 'VMs' }).press('Enter');
  await page.getByRole('combobox', { name: 'Repositories' }).click();
  await page.getByRole('option', { name: 'local' }).click();
  await page.keyboard.press('Escape');
  await page.getByRole('textbox', { name: 'Schedule (cron)' }).fill('0 3 * *');
  consoleErrors.allow(/status of 400/); // the browser logs the refused request itself
  await page.getByRole('button', { name: 'Create policy' }).click();
  const refusal = page.getByRole('alert').filter({ hasText: 'INVALID_REQUEST' });
  await refusal.waitFor();
  assert.match(await refusal.textContent() ?? '', /4 fields/);
  consoleErrors.allow(null);
  await page.getByRole('textbox', { name: 'Schedule (cron)' }).fill('0 3 * * *');
  await page.getByRole('button', { name: 'Create policy' }).click();
  await checkPage(page, 'Policies', visited);
  await page.getByRole('row').filter({ hasText: 'nightly' }).waitFor();
  await page.getByRole('link', { name: 'Edit nightly' }).click();
  await checkPage(page, 'Edit policy nightly', visited);
  await page.getByRole('region', { name: 'What this policy does now' }).getByRole('link', { name: vm.name }).waitFor();
  await page.getByRole('textbox', { name: 'RPO' }).fill('48h');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('row').filter({ hasText: 'nightly' }).filter({ hasText: '48h' }).waitFor();

  // Run it now: the job page follows it live to the end.
  await page.getByRole('button', { name: 'Run now: nightly' }).click();
  await page.getByRole('heading', { level: 1, name: /^Job / }).waitFor();
  await page.getByTestId('job-state').getByText('succeeded').waitFor({ timeout: 120_000 });
  await checkPage(page, /^Job /, visited);
  assert.match(await page.getByTestId('job-log').textContent() ?? '', /\S/, 'the job page shows its log');
  assert.ok(await page.getByRole('row').filter({ hasText: vm.name }).filter({ hasText: 'succeeded' }).count() > 0, 'the VM succeeded');

  // The backup is a restore point on the VM's page.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'VMs' }).click();
  await checkPage(page, 'VMs', visited);
  await page.getByLabel('Search').fill(vm.name);
  await page.getByRole('link', { name: vm.name }).click();
  await checkPage(page, `VM ${vm.name}`, visited);
  const points = page.getByTestId('restore-points').locator('tbody tr');
  await points.first().waitFor();
  assert.equal(await points.count(), 1);
  assert.match(await points.first().textContent() ?? '', /local.*full/);

  // The restore wizard queues a restore of that backup to a directory: its request is this
  // test's business (test/console-jobs.test.ts follows restores to their end).
  await page.getByRole('button', { name: /^Restore the backup of / }).click();
  const wizard = page.getByRole('dialog');
  await wizard.getByText('Disk images to a directory').click();
  await wizard.getByRole('textbox', { name: "Directory on the agent's host" }).fill(restoreDir);
  assert.deepEqual(await seriousA11yViolations(page), [], 'axe on the restore dialog');
  await wizard.getByRole('button', { name: 'Restore' }).click();
  await page.getByRole('heading', { level: 1, name: /^Job / }).waitFor();
  const restoreJob = await apiAsAdmin<{ job: { kind: string; params: Record<string, unknown> } }>('GET', `/jobs/${new URL(page.url()).pathname.split('/').at(-1)}`);
  assert.equal(restoreJob.job.kind, 'restore');
  assert.equal(restoreJob.job.params.toDir, restoreDir);

  // A failed job's error text is on its page.
  const failing = await apiAsAdmin<{ id: string }>('POST', '/jobs', { kind: 'verify', repository: 'local', backups: ['no-such-backup'] });
  await waitFor('the verify job to fail', async () => ['failed', 'warning'].includes((await apiAsAdmin<{ job: { state: string } }>('GET', `/jobs/${failing.id}`)).job.state), 60_000);
  const failed = await apiAsAdmin<{ job: { error: string | null } }>('GET', `/jobs/${failing.id}`);
  await page.goto(`${base}/jobs/${failing.id}`);
  await checkPage(page, `Job ${failing.id}`, visited);
  assert.ok(failed.job.error, 'the failed job has an error');
  assert.equal(await page.getByTestId('job-error').textContent(), failed.job.error);
  assert.ok(await page.getByRole('button', { name: 'Retry' }).isVisible(), 'an admin may retry it');

  // The remaining pages, then the dashboard in the dark theme.
  for (const [link, heading] of [['Jobs', 'Jobs'], ['Repositories', 'Repositories'], ['Dashboard', 'Dashboard']] as const) {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link }).click();
    await checkPage(page, heading, visited);
  }
  await page.getByRole('button', { name: 'Switch to the dark theme' }).click();
  assert.equal(await page.locator('html').getAttribute('data-mantine-color-scheme'), 'dark');
  await checkPage(page, 'Dashboard', visited);
  await page.getByTestId('count-protected').getByText('1').waitFor();

  // A viewer logs in with the keyboard alone and finds no button that changes anything.
  const viewerContext = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
  const viewer = await viewerContext.newPage();
  const viewerErrors = recordConsoleErrors(viewer);
  t.after(async () => {
    if (!viewer.isClosed()) t.diagnostic(`viewer page ${viewer.url()} showed: ${(await viewer.locator('body').innerText().catch(() => '')).slice(0, 800)}`);
  });
  await viewer.goto(base);
  const userName = viewer.getByRole('textbox', { name: 'User name' });
  await userName.waitFor();
  await waitFor('the user name field to have focus', () => userName.evaluate((el) => el === el.ownerDocument.activeElement), 5_000);
  await viewer.keyboard.type('viewer');
  await viewer.keyboard.press('Tab');
  await viewer.keyboard.type(PASSWORDS.viewer);
  await viewer.keyboard.press('Enter');
  await checkPage(viewer, 'Dashboard', visited);
  await viewer.goto(`${base}/policies`);
  await checkPage(viewer, 'Policies', visited);
  await viewer.getByRole('row').filter({ hasText: 'nightly' }).waitFor();
  await viewer.goto(`${base}/jobs/${failing.id}`);
  await checkPage(viewer, `Job ${failing.id}`, visited);
  await viewer.getByTestId('job-error').waitFor();
  await viewer.goto(`${base}/vms/${vm.uuid}`);
  await checkPage(viewer, `VM ${vm.name}`, visited);
  await viewer.getByTestId('restore-points').waitFor();
  for (const path of ['/policies', `/jobs/${failing.id}`, `/vms/${vm.uuid}`]) {
    await viewer.goto(`${base}${path}`);
    await viewer.getByRole('heading', { level: 1 }).waitFor();
    await viewer.locator('main table, main [role=alert]').first().waitFor();
    const buttons = await viewer.locator('main').getByRole('button').allTextContents();
    const mutating = buttons.filter((b) => /new policy|run now|edit|delete|pause|resume|abort|retry|verify|restore|sync/i.test(b));
    assert.deepEqual(mutating, [], `a viewer sees no mutation buttons on ${path}`);
  }
  await viewerContext.close();

  // Logging out ends the session on the server: its token no longer opens anything.
  const sessionToken = await page.evaluate(() => (JSON.parse(sessionStorage.getItem('vmbak.session') ?? 'null') as { token: string }).token);
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('button', { name: 'Log in' }).waitFor();
  assert.equal((await fetch(`${base}/api/v1/auth/me`, { headers: { authorization: `Bearer ${sessionToken}` } })).status, 401);

  await context.close();
  assert.deepEqual([...consoleErrors.errors, ...viewerErrors.errors], [], 'no console errors');
  t.diagnostic(`pages checked with axe: ${visited.join(' ')}`);
  t.diagnostic(`browser part took ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
});

process.on('exit', (code) => { if (code !== 0 && server) process.stderr.write(`--- vmbak serve: warnings and errors ---\n${warningsOf(server.log())}\n`); });
