// One contender in a lock race: opens a target as vmbak does (so VMBAK_TEST_FAULTS applies),
// tries to take an exclusive lock and prints `won` or `locked`. The lock is left as it is:
// the race test gives each round a name of its own.

import { isVmbakError } from '../../src/core/index.ts';
import { openTarget } from '../../src/targets/index.ts';
import { acquireLock } from '../../src/repository/index.ts';

const [location, name] = process.argv.slice(2) as [string, string];
const target = await openTarget(location);
try {
  await acquireLock(target, name, 'lock race', `lock ${name}`);
  process.stdout.write('won\n');
} catch (err) {
  if (!isVmbakError(err, 'REPO_LOCKED')) throw err;
  process.stdout.write('locked\n');
} finally {
  await target.close();
}
