// The console's first pages stay light: the JavaScript of the login page and of the dashboard
// (gzip, as sent) each under the budget (bench/console-bundle.ts), measured on a fresh build.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BUDGET_BYTES, consolePageCosts } from '../bench/console-bundle.ts';
import { buildConsole } from './support/browser.ts';
import { tempDir } from './support/vmbak-cli.ts';

test('the login page and the dashboard load under 400 KiB of gzip JavaScript', { timeout: 120_000 }, async (t) => {
  const tmp = tempDir('console-bundle');
  t.after(() => tmp.remove());
  const dir = join(tmp.dir, 'web');
  await buildConsole(dir);
  for (const cost of consolePageCosts(dir)) {
    t.diagnostic(`${cost.page}: ${(cost.jsGzipBytes / 1024).toFixed(1)} KiB JS, ${(cost.cssGzipBytes / 1024).toFixed(1)} KiB CSS (gzip)`);
    assert.ok(cost.jsGzipBytes < BUDGET_BYTES, `${cost.page} loads ${(cost.jsGzipBytes / 1024).toFixed(1)} KiB of gzip JS`);
  }
});
