// Test support for the web console: real Chromium (Debian's, driven by playwright-core), the
// console built from web/ into a temporary directory, axe-core accessibility checks on a page,
// and a record of the page's console errors. Under CI=true a missing Chromium fails the test
// instead of skipping it.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const VITE_CONFIG = fileURLToPath(new URL('../../web/vite.config.ts', import.meta.url));
const VITE_BIN = fileURLToPath(new URL('../../node_modules/vite/bin/vite.js', import.meta.url));

export const CHROMIUM = process.env.VMBAK_CHROMIUM ?? '/usr/bin/chromium';

/** Null when Chromium is there, else why not; under CI=true the reason is thrown instead. */
export function chromiumUnavailable(): string | null {
  const reason = existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (scripts/install-system-deps.sh installs Debian's chromium)`;
  if (reason && process.env.CI === 'true') throw new Error(`Chromium unavailable under CI: ${reason}`);
  return reason;
}

export function launchChromium(): Promise<Browser> {
  // --no-sandbox: tests run as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

/**
 * Builds the console from web/ into `outDir`, so the test serves the sources as they are now.
 * Test files run two at a time and each builds into its own directory: Vite's lock against
 * two builds of one project is lifted for that.
 */
export async function buildConsole(outDir: string): Promise<void> {
  await run(process.execPath, [VITE_BIN, 'build', '--config', VITE_CONFIG, '--outDir', outDir, '--emptyOutDir', '--bypass-lock', '--logLevel', 'warn']);
}

/** Collects console errors and uncaught exceptions of a page; `allow` lets a test expect some (an answer of 400 it provoked). */
export function recordConsoleErrors(page: Page): { errors: string[]; allow(pattern: RegExp | null): void } {
  const errors: string[] = [];
  let allowed: RegExp | null = null;
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !(allowed && allowed.test(msg.text()))) errors.push(`${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`${page.url()}: uncaught ${err.message}`));
  return { errors, allow: (pattern) => { allowed = pattern; } };
}

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }

/**
 * Runs axe-core on the page as it is and returns its serious and critical violations, one line
 * each. The script goes in through DevTools evaluation, which the console's CSP does not block.
 */
export async function seriousA11yViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    return (await axe.run((globalThis as unknown as { document: unknown }).document, { resultTypes: ['violations'] })).violations;
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}
