// `npm run screenshots`: the console's main pages as PNGs in docs/screenshots/, taken in
// Debian's Chromium from a real `vmbak serve` (no local agent) over a demo catalog
// (console-demo-data.ts) and the console as web/ builds it now.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConsole, launchChromium } from '../test/support/browser.ts';
import { startConsoleServer } from '../test/support/console-server.ts';
import { writeConsoleDemoData } from './console-demo-data.ts';

const OUT = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));
const PASSWORD = 'demo password';

const dir = mkdtempSync(join(tmpdir(), 'vmbak-screenshots-'));
try {
  await buildConsole(join(dir, 'web'));
  await writeConsoleDemoData(join(dir, 'data'), PASSWORD);
  const server = await startConsoleServer(join(dir, 'data'), join(dir, 'web'), ['--no-local-agent']);
  const browser = await launchChromium();
  try {
    mkdirSync(OUT, { recursive: true });
    for (const scheme of ['light', 'dark'] as const) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, colorScheme: scheme });
      await page.goto(server.base);
      if (scheme === 'light') await page.screenshot({ path: join(OUT, 'login.png') });
      await page.getByRole('textbox', { name: 'User name' }).fill('admin');
      await page.getByRole('textbox', { name: 'Password' }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByTestId('usage-chart').locator('canvas').waitFor();
      await page.screenshot({ path: join(OUT, `dashboard-${scheme}.png`) });
      if (scheme === 'dark') break;
      const shots: [string, string, (p: typeof page) => Promise<unknown>][] = [
        ['vms', '/vms', (p) => p.getByTestId('vm-count').waitFor()],
        ['vm', '/vms/web01', (p) => p.getByTestId('restore-points').waitFor()],
        ['repositories', '/repositories', (p) => p.getByTestId('care-schedule').waitFor()],
        ['alerts', '/alerts', (p) => p.getByRole('heading', { name: 'New channel' }).waitFor()],
        ['users', '/users', (p) => p.getByTestId('users').waitFor()],
        ['settings', '/settings', (p) => p.getByTestId('server-info').waitFor()],
        ['jobs', '/jobs', (p) => p.getByRole('table').waitFor()],
        ['policies', '/policies', (p) => p.getByRole('table').waitFor()],
        ['policy-form', '/policies/web/edit', (p) => p.getByRole('button', { name: 'Save' }).waitFor()],
      ];
      for (const [name, path, ready] of shots) {
        await page.goto(`${server.base}${path}`);
        await ready(page);
        await page.screenshot({ path: join(OUT, `${name}.png`) });
      }
      const failed = page.getByRole('row').filter({ hasText: 'databases' }).getByRole('link').first();
      await page.goto(`${server.base}/jobs`);
      await failed.click();
      await page.getByTestId('job-error').waitFor();
      await page.screenshot({ path: join(OUT, 'job-failed.png') });
    }
  } finally {
    await browser.close();
    await server.stop();
  }
  console.log(`screenshots in ${OUT}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
