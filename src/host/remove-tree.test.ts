import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { removeTree } from './remove-tree.ts';

test('removeTree removes a directory that another process is emptying at the same time', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vmbak-rmtree-'));
  try {
    for (let i = 0; i < 60; i++) {
      const dir = join(root, `d${i}`);
      mkdirSync(dir);
      for (let j = 0; j < 50; j++) writeFileSync(join(dir, `f${j}`), 'x');
      const other = spawn('sh', ['-c', `rm -f ${dir}/f*`]);
      const closed = new Promise((resolve) => other.once('close', resolve));
      await sleep(i % 4);
      await removeTree(dir);
      assert.equal(existsSync(dir), false, `${dir} is gone`);
      await closed;
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
