// The console steering real work, in Chromium against a real `vmbak serve` and one shut-off
// libvirt VM: a backup restored as a new VM through the wizard, started, and seen running by
// libvirt while the job's page says it succeeded; then a backup to a second repository whose
// pack writes the server holds (VMBAK_TEST_FAULTS on the serve child only), paused and aborted
// from the job's page — each state seen in the page and in the API, a progress bar for its
// disk while it runs. Then the rest of the restore wizard (one disk downloaded as qcow2, the VM
// overwritten in place after its name is typed), the prune simulator and connection test, alerts
// with a test sent to a webhook, users and tokens, the audit log, and what a viewer does not see. axe-clean, no console errors.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { basename, dirname, join } from 'node:path';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { createTestVm, destroyAllTestVms, destroyTestVm, ensureLibvirt, virshTest, type TestVm } from './support/libvirt.ts';
import { tempDir, vmbak } from './support/vmbak-cli.ts';
import { startConsoleServer, warningsOf, type ConsoleServer } from './support/console-server.ts';
import { startWebhookReceiver } from './support/webhook-receiver.ts';
import { buildConsole, chromiumUnavailable, launchChromium, recordConsoleErrors, seriousA11yViolations } from './support/browser.ts';

const run = promisify(execFile);
const tmp = tempDir('console-jobs');
const dataDir = join(tmp.dir, 'data');
const consoleDir = join(tmp.dir, 'web');
const repo = join(tmp.dir, 'repo');
const slowRepo = join(tmp.dir, 'slow-repo');
const heldFile = join(tmp.dir, 'held');
const releaseFile = join(tmp.dir, 'release');
const restoredName = `vmbak-web-restored-${randomBytes(3).toString('hex')}`;
const PASSWORD = 'admin password 1';
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
  vm = await createTestVm({ namePrefix: 'vmbak-webjobs', start: 'defined', disks: [{ target: 'vda', format: 'qcow2', sizeBytes: 16 << 20 }] });
  // Zero blocks are never stored: without data the backups would write no pack to hold.
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 0 4M', vm.disks[0]!.path]);
  for (const dir of [repo, slowRepo]) assert.equal((await vmbak(['repo', 'init', '--repo', dir], { VMBAK_PASSPHRASE: 'web pass' })).code, 0);
  writeFileSync(join(tmp.dir, 'repo.pass'), 'web pass\n');
  writeFileSync(join(tmp.dir, 'vmbak.yaml'), [
    'repositories:',
    `  - { name: local, url: ${repo}, passphraseFile: repo.pass }`,
    `  - { name: slow, url: ${slowRepo}, passphraseFile: repo.pass }`,
    'policies: []', '',
  ].join('\n'));
  writeFileSync(join(tmp.dir, 'user.pw'), PASSWORD);
  for (const role of ['admin', 'viewer']) {
    const made = await vmbak(['user', 'create', '--data-dir', dataDir, '--name', role, '--role', role, '--password-file', join(tmp.dir, 'user.pw')]);
    assert.equal(made.code, 0, made.stderr);
  }
  adminToken = (await vmbak(['token', 'create', '--data-dir', dataDir, '--role', 'admin', '--name', 'test'])).stdout.trim().split('\n').at(-1)!;
  await built;
  // Every pack written to the slow repository waits for the release file: a job that stays running.
  const faults = [{ op: 'put', match: 'packs/', target: 'slow-repo', action: 'hold', heldFile, releaseFile }];
  server = await startConsoleServer(dataDir, consoleDir, ['--config', join(tmp.dir, 'vmbak.yaml'), '--streams', '2'], { VMBAK_TEST_FAULTS: JSON.stringify(faults) });
  base = server.base;
  browser = await launchChromium();
}, { timeout: 180_000 });

after(async () => {
  writeFileSync(releaseFile, ''); // never leave the server's pack write waiting
  await browser?.close();
  await server?.stop();
  await removeRestoredVm();
  await vm?.destroy(); // with its disk directory, which destroyAllTestVms leaves
  await destroyAllTestVms();
  tmp.remove();
}, { timeout: 60_000 });

/** The restored VM and the disk files the restore made for it (read from libvirt before it forgets them). */
async function removeRestoredVm(): Promise<void> {
  const disks = await virshTest('domblklist', restoredName).then((out) => out.split('\n').map((l) => l.trim().split(/\s+/)[1]).filter((p): p is string => !!p && p.startsWith('/')), () => []);
  await destroyTestVm(restoredName);
  // Only a directory of the VM's own (libvirt's default: …/images/NAME/), never a shared pool.
  for (const disk of disks) rmSync(basename(dirname(disk)) === restoredName ? dirname(disk) : disk, { recursive: true, force: true });
}

async function waitFor(what: string, probe: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
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
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

const jobState = async (id: string): Promise<string> => (await apiAsAdmin<{ job: { state: string } }>('GET', `/jobs/${id}`)).job.state;

async function checkPage(page: Page, heading: string | RegExp): Promise<void> {
  await page.getByRole('heading', { level: 1, name: heading }).waitFor({ timeout: 15_000 });
  await page.locator('.mantine-Loader-root').first().waitFor({ state: 'detached', timeout: 15_000 }).catch(() => undefined);
  assert.deepEqual(await seriousA11yViolations(page), [], `axe on ${page.url()}`);
}

test('the console restores a backup as a running VM, and pauses and aborts a running job', { timeout: 300_000 }, async (t) => {
  if (unavailable) return t.skip(unavailable);
  const startedMs = Date.now();
  const backup = await apiAsAdmin<{ id: string }>('POST', '/jobs', { kind: 'backup', vms: [vm.name], repositories: ['local'] });
  await waitFor('the backup', async () => (await jobState(backup.id)) === 'succeeded', 120_000);

  const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const consoleErrors = recordConsoleErrors(page);
  t.after(async () => {
    if (!page.isClosed()) t.diagnostic(`page ${page.url()} showed: ${(await page.locator('body').innerText().catch(() => '')).slice(0, 3000)}`);
  });
  await page.goto(`${base}/vms/${vm.uuid}`);
  await page.getByLabel('User name').fill('admin');
  await page.getByRole('textbox', { name: 'Password' }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await checkPage(page, `VM ${vm.name}`);

  // As a new VM, started, its disks in a storage pool the host reported: libvirt has it
  // running from there and the job's page says it succeeded.
  const poolName = `vmbak-webjobs-${randomBytes(3).toString('hex')}`;
  // Outside the test's own 0700 directory: QEMU (its own user) must reach the disks, as in any real pool.
  const poolDir = mkdtempSync(join(tmpdir(), 'vmbak-webjobs-pool-'));
  chmodSync(poolDir, 0o755);
  await virshTest('pool-create-as', poolName, 'dir', '--target', poolDir); // transient: gone when destroyed
  t.after(async () => {
    await virshTest('pool-destroy', poolName).catch(() => '');
    rmSync(poolDir, { recursive: true, force: true });
  });
  await apiAsAdmin('POST', '/vms/sync');
  await page.getByTestId('restore-points').locator('tbody tr').first().waitFor();
  await page.getByRole('button', { name: /^Restore the backup of / }).click();
  const wizard = page.getByRole('dialog');
  await wizard.getByRole('textbox', { name: 'Name of the new VM' }).fill(restoredName);
  await wizard.getByLabel('Storage pool').click();
  await page.getByRole('option', { name: new RegExp(`^${poolName} — ${poolDir}`) }).click();
  await wizard.getByRole('checkbox', { name: 'Start it' }).check();
  await wizard.getByRole('button', { name: 'Restore' }).click();
  await page.getByRole('heading', { level: 1, name: /^Job / }).waitFor();
  const restoreId = new URL(page.url()).pathname.split('/').at(-1)!;
  await page.getByTestId('job-state').getByText('succeeded').waitFor({ timeout: 120_000 });
  await checkPage(page, /^Job /);
  assert.equal(await jobState(restoreId), 'succeeded');
  assert.match(await page.getByTestId('job-log').textContent() ?? '', new RegExp(`as VM ${restoredName}.*started`));
  assert.equal((await virshTest('domstate', restoredName)).trim(), 'running');
  assert.match(await virshTest('domblklist', restoredName), new RegExp(`${poolDir}/${restoredName}/vda\\.qcow2`), 'its disk is in the pool chosen');

  // A backup held at its first pack write: paused, then aborted, from its page.
  const held = await apiAsAdmin<{ id: string }>('POST', '/jobs', { kind: 'backup', vms: [vm.name], repositories: ['slow'] });
  await waitFor('the slow backup to reach its first pack write', () => existsSync(heldFile), 120_000);
  await page.goto(`${base}/jobs/${held.id}`);
  await checkPage(page, `Job ${held.id}`);
  await page.getByTestId('job-state').getByText('running').waitFor();
  // One bar per disk, from the disks the job's progress events carry.
  const diskBar = page.getByTestId('disk-progress').getByRole('progressbar', { name: new RegExp(`^Disk ${vm.name} vda: \\d+ %$`) });
  await diskBar.waitFor();
  assert.match(await page.getByTestId('disk-progress').textContent() ?? '', /vda[\d.]+ \S+ of [\d.]+ \S+ · /, 'its bytes read of its read plan, and its rate');
  await page.setViewportSize({ width: 390, height: 844 });
  assert.ok(await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth <= 391), 'the job page fits a phone');
  await checkPage(page, `Job ${held.id}`);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.getByTestId('job-state').getByText('paused').waitFor();
  assert.equal(await jobState(held.id), 'paused');
  assert.ok(await page.getByRole('button', { name: 'Resume' }).isVisible(), 'a paused job offers resume');
  await page.getByRole('button', { name: 'Abort' }).click();
  writeFileSync(releaseFile, ''); // the held write returns, and the job sees its abort
  await page.getByTestId('job-state').getByText('aborted').waitFor({ timeout: 60_000 });
  assert.equal(await jobState(held.id), 'aborted');
  assert.ok(await page.getByRole('button', { name: 'Retry' }).isVisible(), 'an aborted job offers retry');
  await checkPage(page, `Job ${held.id}`);

  await context.close();
  assert.deepEqual(consoleErrors.errors, [], 'no console errors');
  t.diagnostic(`browser part took ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
});

test('the console: restore in place and as a download, the prune simulator, the connection test, alerts, users and tokens, the audit log', { timeout: 300_000 }, async (t) => {
  if (unavailable) return t.skip(unavailable);
  const startedMs = Date.now();
  // A webhook that answers 200: the channel's "Send test" has somewhere to deliver.
  const hook = await startWebhookReceiver(t);
  const hooks = hook.paths;
  await apiAsAdmin('POST', '/alerts/channels', { name: 'hook', type: 'webhook', url: hook.url });

  const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const consoleErrors = recordConsoleErrors(page);
  t.after(async () => {
    if (!page.isClosed()) t.diagnostic(`page ${page.url()} showed: ${(await page.locator('body').innerText().catch(() => '')).slice(0, 3000)}`);
  });
  await page.goto(`${base}/vms/${vm.uuid}`);
  await page.getByLabel('User name').fill('admin');
  await page.getByRole('textbox', { name: 'Password' }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await checkPage(page, `VM ${vm.name}`);

  // One disk as qcow2 for download: the job restores it, its page hands it over.
  await page.getByRole('button', { name: /^Restore the backup of / }).first().click();
  let wizard = page.getByRole('dialog');
  await wizard.getByText('Download one disk').click();
  await wizard.getByRole('textbox', { name: 'Disk' }).fill('vda');
  await wizard.getByLabel('Image format').click();
  await page.getByRole('option', { name: 'qcow2' }).click();
  assert.deepEqual(await seriousA11yViolations(page), [], 'axe on the restore dialog (download)');
  await wizard.getByRole('button', { name: 'Restore' }).click();
  await page.getByRole('heading', { level: 1, name: /^Job / }).waitFor();
  await page.getByTestId('job-state').getByText('succeeded').waitFor({ timeout: 120_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download disk vda' }).click()]);
  const info = JSON.parse((await run('qemu-img', ['info', '--output=json', (await download.path())!])).stdout) as { format: string; 'virtual-size': number };
  assert.deepEqual([info.format, info['virtual-size']], ['qcow2', 16 << 20]);
  const compared = await run('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', (await download.path())!, vm.disks[0]!.path]).then(() => 0, (e: { code: number }) => e.code);
  assert.equal(compared, 0, 'the downloaded image holds what the VM\'s disk holds');

  // Over the original: a wrong name is refused by the server, the right one restores.
  await page.goto(`${base}/vms/${vm.uuid}`);
  await checkPage(page, `VM ${vm.name}`);
  await page.getByRole('button', { name: /^Restore the backup of / }).first().click();
  wizard = page.getByRole('dialog');
  await wizard.getByText('Over the original VM').click();
  await wizard.getByRole('textbox', { name: `Type ${vm.name} to confirm` }).fill(`${vm.name}x`);
  consoleErrors.allow(/status of 400/);
  await wizard.getByRole('button', { name: 'Overwrite and restore' }).click();
  await wizard.getByRole('alert').filter({ hasText: 'CONFIRMATION_MISMATCH' }).waitFor();
  consoleErrors.allow(null);
  assert.deepEqual(await seriousA11yViolations(page), [], 'axe on the restore dialog (in place)');
  await wizard.getByRole('textbox', { name: `Type ${vm.name} to confirm` }).fill(vm.name);
  await wizard.getByRole('button', { name: 'Overwrite and restore' }).click();
  await page.getByRole('heading', { level: 1, name: /^Job / }).waitFor();
  await page.getByTestId('job-state').getByText('succeeded').waitFor({ timeout: 120_000 });
  assert.match(await page.getByTestId('job-log').textContent() ?? '', new RegExp(`over VM ${vm.name}`));

  // The prune simulator answers from the server's prune plan; nothing is deleted.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Repositories' }).click();
  await checkPage(page, 'Repositories');
  await page.getByRole('textbox', { name: 'Keep last' }).fill('1');
  await page.getByRole('button', { name: 'Simulate' }).click();
  await page.getByTestId('prune-summary').getByText('1 kept, 0 removed').waitFor();
  assert.match(await page.getByTestId('prune-preview').locator('tbody tr').first().textContent() ?? '', /kept.*last/);
  const preview = await apiAsAdmin<{ keep: unknown[]; remove: unknown[] }>('GET', '/repositories/local/prune-preview?keepLast=1');
  assert.deepEqual([preview.keep.length, preview.remove.length], [1, 0]);
  // The connection test: the right passphrase opens the repository, a wrong one says why not.
  await page.getByRole('textbox', { name: 'Location' }).fill(repo);
  await page.getByLabel('Passphrase').fill('web pass');
  await page.getByRole('button', { name: 'Test connection' }).click();
  await page.getByTestId('connection-result').getByText('Connected').waitFor();
  assert.deepEqual(await seriousA11yViolations(page), [], 'axe on a connection that worked');
  await page.getByLabel('Passphrase').fill('wrong pass');
  await page.getByRole('button', { name: 'Test connection' }).click();
  await page.getByTestId('connection-result').getByText('Not connected').waitFor();
  assert.match(await page.getByTestId('connection-result').textContent() ?? '', /\([A-Z_]+\)/);
  await checkPage(page, 'Repositories');

  // Alerts: a test through the channel arrives at the webhook and is listed as delivered.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts' }).click();
  await checkPage(page, 'Alerts');
  await page.getByRole('button', { name: 'Send test to hook' }).click();
  await page.getByRole('status').getByText(/^Sent/).waitFor();
  await page.getByTestId('deliveries').getByText('delivered').first().waitFor();
  assert.ok(hooks.length >= 1, 'the webhook got the test');
  await checkPage(page, 'Alerts');

  for (const [link, heading, table] of [['Users and tokens', 'Users and tokens', 'tokens'], ['Audit log', 'Audit log', 'audit']] as const) {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link }).click();
    await checkPage(page, heading);
    await page.getByTestId(table).waitFor();
  }
  await page.getByTestId('audit').getByText('repository.test').first().waitFor();
  // A token made on the page works once, and no longer after it is revoked there.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users and tokens' }).click();
  await page.getByRole('textbox', { name: 'Token name' }).fill('from-the-console');
  await page.getByRole('button', { name: 'Create token' }).click();
  const made = (await page.getByTestId('new-token').textContent())!.trim();
  const asMade = () => fetch(`${base}/api/v1/vms`, { headers: { authorization: `Bearer ${made}` } }).then((r) => r.status);
  assert.equal(await asMade(), 200);
  await page.getByRole('button', { name: 'Revoke token from-the-console' }).click();
  await page.getByTestId('tokens').getByRole('row').filter({ hasText: 'from-the-console' }).getByText(/^revoked/).waitFor();
  assert.equal(await asMade(), 401);
  await checkPage(page, 'Users and tokens');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
  await page.getByTestId('audit').getByText('token.revoke').first().waitFor();
  await page.getByRole('button', { name: 'Switch to the dark theme' }).click();
  await checkPage(page, 'Audit log');

  // A viewer: no admin pages in the navigation, the simulator but no connection test.
  const viewerContext = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
  const viewer = await viewerContext.newPage();
  const viewerErrors = recordConsoleErrors(viewer);
  await viewer.goto(`${base}/repositories`);
  await viewer.getByLabel('User name').fill('viewer');
  await viewer.getByRole('textbox', { name: 'Password' }).fill(PASSWORD);
  await viewer.getByRole('button', { name: 'Log in' }).click();
  await checkPage(viewer, 'Repositories');
  await viewer.getByRole('button', { name: 'Simulate' }).waitFor();
  assert.equal(await viewer.getByRole('button', { name: 'Test connection' }).count(), 0);
  const links = await viewer.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents();
  assert.ok(!links.includes('Audit log') && !links.includes('Users and tokens'), `viewer navigation: ${links.join(', ')}`);
  await viewer.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts' }).click();
  await checkPage(viewer, 'Alerts');
  await viewer.getByTestId('channels').waitFor();
  assert.equal(await viewer.getByRole('button', { name: /Send test/ }).count(), 0);
  await viewerContext.close();

  await context.close();
  assert.deepEqual([...consoleErrors.errors, ...viewerErrors.errors], [], 'no console errors');
  t.diagnostic(`browser part took ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
});

process.on('exit', (code) => { if (code !== 0 && server) process.stderr.write(`--- vmbak serve: warnings and errors ---\n${warningsOf(server.log())}\n`); });
