// The one behaviour suite every Target must pass (local, SFTP, FTP/FTPS, S3), registered as
// node:test cases by each back-end's test file against a real server. It pins down exactly
// what the repository format relies on: atomic put/overwrite, create-if-absent, ranged reads,
// recursive prefix listing that never hides a failure, idempotent delete, stat.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isVmbakError, type Target } from '../core/index.ts';

export interface ConformanceOptions {
  /** Includes the 70 MiB object (multipart on S3); slow targets may leave it out. */
  readonly largeObjects?: boolean;
  /** Case names this back-end is known to fail, with why: run as `todo`, reported, not failing. */
  readonly knownFailures?: Readonly<Record<string, string>>;
}

const MiB = 1024 * 1024;

/** Registers the suite; `open` returns a target over an empty area for each test. */
export function registerTargetConformance(label: string, open: () => Promise<Target>, options: ConformanceOptions = {}): void {
  const withTarget = (name: string, body: (t: Target) => Promise<void>, timeoutMs = 60_000): void => {
    const todo = options.knownFailures?.[name];
    test(`${label}: ${name}`, { timeout: timeoutMs, ...(todo ? { todo } : {}) }, async () => {
      const target = await open();
      try {
        await body(target);
      } finally {
        await target.close();
      }
    });
  };

  const sizes = [0, 1, 5 * MiB, ...(options.largeObjects === false ? [] : [70 * MiB])];
  for (const sizeBytes of sizes) {
    withTarget(`put/get roundtrip of ${sizeBytes} bytes`, async (t) => {
      const data = randomBytes(sizeBytes);
      await t.put(`round/${sizeBytes}.bin`, data);
      const back = await t.get(`round/${sizeBytes}.bin`);
      assert.equal(back.length, sizeBytes);
      assert.ok(back.equals(data), 'bytes read back differ from bytes written');
      assert.deepEqual(await t.stat(`round/${sizeBytes}.bin`), { name: `round/${sizeBytes}.bin`, sizeBytes });
    }, 180_000);
  }

  withTarget('put overwrites an existing object', async (t) => {
    await t.put('over/a', Buffer.from('first version, longer'));
    await t.put('over/a', Buffer.from('second'));
    assert.equal((await t.get('over/a')).toString(), 'second');
    assert.deepEqual((await t.list('over/')).map((o) => o.name), ['over/a']);
  });

  withTarget('ranged get', async (t) => {
    const data = randomBytes(3 * MiB + 17);
    await t.put('range/obj', data);
    assert.ok((await t.get('range/obj', { offsetBytes: 0, lengthBytes: 10 })).equals(data.subarray(0, 10)));
    assert.ok((await t.get('range/obj', { offsetBytes: MiB + 5, lengthBytes: MiB })).equals(data.subarray(MiB + 5, 2 * MiB + 5)));
    assert.ok((await t.get('range/obj', { offsetBytes: data.length - 7, lengthBytes: 7 })).equals(data.subarray(data.length - 7)));
    assert.equal((await t.get('range/obj', { offsetBytes: 100, lengthBytes: 0 })).length, 0);
  });

  withTarget('create is create-if-absent', async (t) => {
    assert.equal(await t.create('locks/one', Buffer.from('winner')), true);
    assert.equal(await t.create('locks/one', Buffer.from('loser')), false);
    assert.equal((await t.get('locks/one')).toString(), 'winner');
    const racers = await Promise.all([1, 2, 3, 4].map((i) => t.create('locks/race', Buffer.from(`racer ${i}`))));
    assert.equal(racers.filter(Boolean).length, 1, `exactly one concurrent create wins, got ${racers}`);
    assert.deepEqual((await t.list('locks/')).map((o) => o.name), ['locks/one', 'locks/race']);
  });

  withTarget('list with prefixes and nested names', async (t) => {
    const names = ['l/a', 'l/b/c', 'l/b/d/e', 'l/bx', 'l2/z'];
    for (const n of names) await t.put(n, Buffer.from(n));
    const all = await t.list('l');
    assert.deepEqual(all.map((o) => o.name), ['l/a', 'l/b/c', 'l/b/d/e', 'l/bx', 'l2/z']);
    assert.deepEqual((await t.list('l/')).map((o) => o.name), ['l/a', 'l/b/c', 'l/b/d/e', 'l/bx']);
    assert.deepEqual((await t.list('l/b/')).map((o) => o.name), ['l/b/c', 'l/b/d/e']);
    assert.deepEqual((await t.list('l/b')).map((o) => o.name), ['l/b/c', 'l/b/d/e', 'l/bx']);
    assert.deepEqual((await t.list('l/b/d/e')).map((o) => o), [{ name: 'l/b/d/e', sizeBytes: 7 }]);
  });

  withTarget('list of a missing prefix is empty', async (t) => {
    assert.deepEqual(await t.list('nothing-here/'), []);
    assert.deepEqual(await t.list('nothing/deeper/'), []);
  });

  withTarget('delete, also of a missing object', async (t) => {
    await t.put('del/x', Buffer.from('x'));
    await t.delete('del/x');
    assert.equal(await t.stat('del/x'), null);
    await t.delete('del/x');
    await t.delete('del/never/was');
  });

  withTarget('stat and get of a missing object', async (t) => {
    assert.equal(await t.stat('missing/obj'), null);
    await assert.rejects(t.get('missing/obj'), (err) => isVmbakError(err, 'OBJECT_MISSING') && err.message.includes(t.displayUrl));
    await assert.rejects(t.get('missing/obj', { offsetBytes: 0, lengthBytes: 1 }), (err) => isVmbakError(err, 'OBJECT_MISSING'));
  });

  withTarget('names with subdirectories are created on demand', async (t) => {
    await t.put('deep/a/b/c/d/e/f.bin', Buffer.from('deep'));
    assert.equal((await t.get('deep/a/b/c/d/e/f.bin')).toString(), 'deep');
    assert.equal(await t.create('deep/x/y/z.bin', Buffer.from('z')), true);
  });

  withTarget('concurrent puts', async (t) => {
    const blobs = Array.from({ length: 16 }, (_, i) => randomBytes(64 * 1024 + i));
    await Promise.all(blobs.map((b, i) => t.put(`conc/${i % 4}/${i}`, b)));
    const back = await Promise.all(blobs.map((_, i) => t.get(`conc/${i % 4}/${i}`)));
    back.forEach((b, i) => assert.ok(b.equals(blobs[i]!), `object ${i} differs`));
    assert.equal((await t.list('conc/')).length, 16);
  });
}
