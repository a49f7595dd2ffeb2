// The console's static files beside the API: index.html for the console's own addresses (so a
// reload of /vms/web01 opens that page) with a CSP that allows nothing from elsewhere, hashed
// assets cached for a year, unknown /api paths still a NO_ROUTE problem, no static route in the
// OpenAPI document, and no console at all when none is built.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync } from 'node:zlib';
import { startTestApi } from './server-test-support.ts';

function builtConsole(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vmbak-console-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>vmbak</title><script type="module" src="/assets/index-abc123.js"></script>');
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log("console")');
  writeFileSync(join(dir, 'assets', 'index-abc123.js.br'), brotliCompressSync('console.log("console")'));
  return dir;
}

const HTML = { accept: 'text/html,application/xhtml+xml' };

test('the console is served at / with the SPA fallback, caching and CSP; the API keeps its problems', async (t) => {
  const api = await startTestApi(t, { consoleDir: builtConsole(t) });
  for (const path of ['/', '/vms/web01', '/jobs/j1?tab=log']) {
    const page = await api.call('GET', path, { headers: HTML });
    assert.equal(page.status, 200, path);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/, path);
    assert.match(page.text, /<title>vmbak<\/title>/, path);
    assert.equal(page.headers.get('cache-control'), 'no-cache', path);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'.*connect-src 'self'/, path);
  }
  const asset = await api.call('GET', '/assets/index-abc123.js');
  assert.equal(asset.status, 200);
  assert.match(asset.headers.get('content-type') ?? '', /javascript/);
  assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');

  const compressed = await fetch(`${api.url}/assets/index-abc123.js`, { headers: { 'accept-encoding': 'br' } });
  assert.equal(compressed.headers.get('content-encoding'), 'br', 'the build\'s brotli copy goes to a browser that takes it');
  assert.equal(await compressed.text(), 'console.log("console")', 'fetch() undoes the brotli');

  const unknownApi = await api.call('GET', '/api/v1/no-such-thing', { headers: HTML });
  assert.deepEqual([unknownApi.status, unknownApi.json.code], [404, 'NO_ROUTE']);
  const missingFile = await api.call('GET', '/assets/gone-123.js');
  assert.deepEqual([missingFile.status, missingFile.json.code], [404, 'NO_ROUTE']);
  const notHtml = await api.call('GET', '/vms/web01', { headers: { accept: 'application/json' } });
  assert.equal(notHtml.status, 404, 'only a browser asking for a page gets index.html');

  assert.equal((await api.call('GET', '/api/v1/health')).status, 200);
  assert.equal((await api.call('GET', '/api/v1/vms')).status, 401, 'the API still wants a token');
  const doc = (await api.call('GET', '/api/v1/openapi.json')).json;
  assert.deepEqual(Object.keys(doc.paths).filter((p: string) => !p.startsWith('/api/v1/')), [], 'static files are not in the API document');
});

test('without a built console, / is a NO_ROUTE problem', async (t) => {
  const api = await startTestApi(t, { consoleDir: join(tmpdir(), 'vmbak-no-console-here') });
  const page = await api.call('GET', '/', { headers: HTML });
  assert.deepEqual([page.status, page.json.code], [404, 'NO_ROUTE']);
});
