// The one behaviour suite every Target must pass (local, SFTP, FTP/FTPS, S3), registered as
// node:test cases by each back-end's test file against a real server. It pins down exactly
// what the repository format relies on: atomic put/overwrite, create-if-absent, ranged reads,
// recursive prefix listing that never hides a failure, idempotent delete, stat, and
// modification times from the server that a lock's owner can move forward by rewriting it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isVmbakError, type ObjectInfo, type Target } from '../core/index.ts';

export interface ConformanceOptions {
  /** Includes the 70 MiB object (multipart on S3); slow targets may leave it out. */
  readonly largeObjects?: boolean;
  /** Case names this back-end is known to fail, with why: run as `todo`, reported, not failing. */
  readonly knownFailures?: Readonly<Record<string, string>>;
  /** How coarse list()'s modifiedMs is (rounded down); 1 s unless the listing is coarser (FTP LIST: 1 min). */
  readonly listTimePrecisionMs?: number;
}

const MiB = 1024 * 1024;
/** stat()'s modifiedMs is at worst whole seconds (SFTP, FTP MDTM, S3's Last-Modified header). */
const STAT_PRECISION_MS = 1000;
/** The servers run on this machine, on our clock; this covers scheduling and request time. */
const CLOCK_SLACK_MS = 3000;

const withoutTime = (o: ObjectInfo | null | undefined): Omit<ObjectInfo, 'modifiedMs'> | null | undefined =>
  o ? { name: o.name, sizeBytes: o.sizeBytes } : o;

function assertTimeWithin(what: string, modifiedMs: number | null | undefined, beforeMs: number, afterMs: number, precisionMs: number): void {
  assert.equal(typeof modifiedMs, 'number', `${what}: no modification time`);
  const lowMs = beforeMs - precisionMs - CLOCK_SLACK_MS;
  const highMs = afterMs + CLOCK_SLACK_MS;
  assert.ok(modifiedMs! >= lowMs && modifiedMs! <= highMs,
    `${what}: modifiedMs ${new Date(modifiedMs!).toISOString()} is not near the write (${new Date(beforeMs).toISOString()} .. ${new Date(afterMs).toISOString()})`);
}

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
      assert.deepEqual(withoutTime(await t.stat(`round/${sizeBytes}.bin`)), { name: `round/${sizeBytes}.bin`, sizeBytes });
    }, 180_000);
  }

  withTarget('put overwrites an existing object', async (t) => {
    await t.put('over/a', Buffer.from('first version, longer'));
    await t.put('over/a', Buffer.from('second'));
    assert.equal((await t.get('over/a')).toString(), 'second');
    assert.deepEqual((await t.list('over/')).map((o) => o.name), ['over/a']);
  });

  withTarget('modification times are the server\'s and a put over an object advances them', async (t) => {
    const beforeMs = Date.now();
    await t.put('times/a', Buffer.from('first'));
    const afterMs = Date.now();
    const first = await t.stat('times/a');
    assertTimeWithin('stat after put', first?.modifiedMs, beforeMs, afterMs, STAT_PRECISION_MS);
    const [listed] = await t.list('times/');
    assertTimeWithin('list after put', listed?.modifiedMs, beforeMs, afterMs, options.listTimePrecisionMs ?? STAT_PRECISION_MS);
    // Stores with whole-second times show a rewrite only once the clock has passed a second.
    await new Promise((r) => setTimeout(r, STAT_PRECISION_MS + 100));
    const rewriteMs = Date.now();
    await t.put('times/a', Buffer.from('second'));
    const second = await t.stat('times/a');
    assertTimeWithin('stat after rewrite', second?.modifiedMs, rewriteMs, Date.now(), STAT_PRECISION_MS);
    assert.ok(second!.modifiedMs! > first!.modifiedMs!, `a put over the object did not advance its time (${first!.modifiedMs} -> ${second!.modifiedMs})`);
    assert.equal(await t.create('times/a', Buffer.from('third')), false);
    assert.equal((await t.stat('times/a'))?.modifiedMs, second!.modifiedMs, 'a refused create changed the time');
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
    assert.deepEqual((await t.list('l/b/d/e')).map(withoutTime), [{ name: 'l/b/d/e', sizeBytes: 7 }]);
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
