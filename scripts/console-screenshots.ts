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
    const viewports = { desktop: { width: 1280, height: 860 }, phone: { width: 390, height: 844 } } as const;
    // The main four (dashboard, a VM's restore points, a job, the restore wizard) in every
    // theme and width; the other pages light, at desktop width.
    for (const scheme of ['light', 'dark'] as const) {
      for (const [width, viewport] of Object.entries(viewports)) {
        const page = await browser.newPage({ viewport, colorScheme: scheme });
        const shot = (name: string) => page.screenshot({ path: join(OUT, `${name}-${scheme}-${width}.png`) });
        await page.goto(server.base);
        if (scheme === 'light' && width === 'desktop') await page.screenshot({ path: join(OUT, 'login.png') });
        await page.getByRole('textbox', { name: 'User name' }).fill('admin');
        await page.getByRole('textbox', { name: 'Password' }).fill(PASSWORD);
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.getByTestId('usage-chart').locator('canvas').waitFor();
        await shot('dashboard');
        await page.goto(`${server.base}/vms/web01`);
        await page.getByTestId('restore-points').waitFor();
        await shot('vm');
        await page.getByRole('button', { name: /^Restore the backup of / }).first().click();
        await page.getByRole('dialog').getByLabel('Storage pool').waitFor();
        await shot('restore-wizard');
        await page.goto(`${server.base}/jobs`);
        await page.getByRole('row').filter({ hasText: 'databases' }).getByRole('link').first().click();
        await page.getByTestId('job-error').waitFor();
        await shot('job');
        if (scheme === 'light' && width === 'desktop') {
          const shots: [string, string, (p: typeof page) => Promise<unknown>][] = [
            ['vms', '/vms', (p) => p.getByTestId('vm-count').waitFor()],
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
        }
        await page.close();
      }
    }
  } finally {
    await browser.close();
    await server.stop();
  }
  console.log(`screenshots in ${OUT}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
