// Writes docs/errors.md from the error registry (`npm run docs:errors`); the test suite fails
// when the two differ.

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { errorRegistry } from '../src/core/index.ts';

export function renderErrorsDoc(): string {
  const rows = Object.entries(errorRegistry).map(([code, e]) =>
    `| \`${code}\` | ${e.message.replace(/\|/g, '\\|')} | ${e.exitCode} | ${e.httpStatus} | ${e.retryable ? 'yes' : 'no'} |`);
  return [
    '# vmbak errors',
    '',
    'Every failure vmbak reports comes from one registry (`src/core/errors.ts`). The CLI prints',
    '`vmbak: <message>` on one line and exits with the code below; the API answers with the HTTP',
    'status and an `application/problem+json` body whose `code` is the code (docs/api.md). "Retry"',
    'says whether the same operation may succeed when tried again.',
    '',
    'Exit codes: 0 success, 1 failure, 2 usage (bad options or input), 3 completed with warnings',
    '(a backup was recorded but a copy or another VM of the same command failed), 130 aborted by a signal.',
    '',
    '| code | message | exit | HTTP | retry |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorsDoc());
}
