// The console's API types (web/src/api/schema.gen.ts) are what `npm run api:types` makes from
// the server's own OpenAPI document: a route or schema change without regenerating fails here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { API_TYPES_FILE, renderApiTypes } from '../scripts/api-types.ts';

test('web/src/api/schema.gen.ts is in step with the OpenAPI document', async () => {
  assert.equal(readFileSync(API_TYPES_FILE, 'utf8'), await renderApiTypes(), 'run `npm run api:types`');
});
