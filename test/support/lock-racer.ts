// One contender in a lock race: opens a target as vmbak does (so VMBAK_TEST_FAULTS applies),
// tries to take an exclusive lock and prints `won` or `locked`. A winner keeps holding the
// lock (alive, so it is not dead to the other) until the file `doneFile` exists; the lock is
// then left as it is: the race test gives each round a name of its own.

import { isVmbakError } from '../../src/core/index.ts';
import { openTarget } from '../../src/targets/index.ts';
import { acquireLock } from '../../src/repository/index.ts';

import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const [location, name, doneFile] = process.argv.slice(2) as [string, string, string];
const target = await openTarget(location);
try {
  await acquireLock(target, name, 'lock race', `lock ${name}`);
  process.stdout.write('won\n');
  while (!existsSync(doneFile)) await sleep(20);
} catch (err) {
  if (!isVmbakError(err, 'REPO_LOCKED')) throw err;
  process.stdout.write('locked\n');
} finally {
  await target.close();
}
