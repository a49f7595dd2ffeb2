// docs/errors.md lists every error in the registry, as `npm run docs:errors` writes it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderErrorsDoc } from '../scripts/errors-doc.ts';

test('docs/errors.md is in step with the error registry', () => {
  assert.equal(readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8'), renderErrorsDoc(), 'run `npm run docs:errors`');
});
