// A full S3 store: a real Ceph radosgw whose buckets carry quotas (test/support/radosgw.ts).
// radosgw refuses a write past the quota with 403 QuotaExceeded before it reads the body (after
// "100 CONTINUE" when the client asked for it). On a keep-alive connection it then drains the
// body and the client reads the 403; on a "Connection: close" one (the SDK's own agent for
// 100-continue requests) it hangs up at once and the client, still sending, often sees only
// ECONNRESET/EPIPE. So the S3 target's own keep-alive agents are what make a full store read as
// TARGET_FULL naming the target rather than as a dropped connection the engine would retry;
// this file fails if that changes. A refused put must leave neither an object nor a pending
// multipart upload behind.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { S3Client, CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { radosgwForTests, type Radosgw } from '../../test/support/radosgw.ts';
import { openTarget } from './open-target.ts';
import { isVmbakError, type Target } from '../core/index.ts';
import { MULTIPART_THRESHOLD_BYTES, MULTIPART_PART_BYTES } from './s3-target.ts';

const MiB = 1024 * 1024;
const SMALL = 'vmbak-quota';
const MULTIPART = 'vmbak-quota-mp';
const USER = 'vmbak-quota-user';
let rgw: Radosgw | null = null;
let startError: unknown = null;
let admin: S3Client | null = null;

before(async () => {
  ({ rgw, startError } = await radosgwForTests());
  if (!rgw) return;
  admin = new S3Client({ region: rgw.region, endpoint: rgw.endpoint, forcePathStyle: true });
  for (const bucket of [SMALL, MULTIPART, USER]) await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  await rgw.setQuota(4 * MiB, SMALL);
  // Room for two parts of a multipart upload, not for the third.
  await rgw.setQuota(2 * MULTIPART_PART_BYTES + 8 * MiB, MULTIPART);
}, { timeout: 120_000 });

after(async () => {
  admin?.destroy();
  await rgw?.stop();
}, { timeout: 30_000 });

async function open(bucket: string, t: { skip(msg: string): void }): Promise<Target | null> {
  if (!rgw) {
    t.skip(`radosgw did not start: ${String(startError)}`);
    return null;
  }
  return await openTarget(`s3://${bucket}/repo/?endpoint=${encodeURIComponent(rgw.endpoint)}&region=${rgw.region}`);
}

function isFullNaming(target: Target): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isVmbakError(err), String(err));
    assert.equal(err.code, 'TARGET_FULL', err.message);
    assert.ok(err.message.includes(target.displayUrl), err.message);
    assert.match(err.message, /QuotaExceeded/);
    return true;
  };
}

test('s3 quota: puts past it are TARGET_FULL naming the target and store nothing', { timeout: 60_000 }, async (t) => {
  const target = await open(SMALL, t);
  if (!target) return;
  try {
    for (const name of ['a', 'b', 'c']) await target.put(name, randomBytes(MiB));
    // Bodies of 2 MiB and more are sent after "100 Continue", smaller ones straight away:
    // both ways must see the 403, several times over, since a lost race is the failure mode.
    for (const sizeBytes of [3 * MiB, 3 * MiB, 8 * MiB, 12 * MiB, 1.5 * MiB]) {
      const name = `over-${sizeBytes}`;
      await assert.rejects(target.put(name, randomBytes(sizeBytes)), isFullNaming(target));
      assert.equal(await target.stat(name), null, `${name} must not exist`);
    }
    await assert.rejects(target.create('config', randomBytes(3 * MiB)), isFullNaming(target));
    assert.deepEqual((await target.list('')).map((o) => o.name), ['a', 'b', 'c']);
    // Full is a state of the store, not of the connection: once room is made, puts work again.
    await rgw!.setQuota(-1, SMALL);
    await target.put('after', randomBytes(3 * MiB));
    assert.equal((await target.stat('after'))?.sizeBytes, 3 * MiB);
  } finally {
    await target.close();
  }
});

test('s3 quota: a multipart put refused part-way is TARGET_FULL and its upload is aborted', { timeout: 120_000 }, async (t) => {
  const target = await open(MULTIPART, t);
  if (!target) return;
  try {
    await target.put('small', randomBytes(MiB));
    const sizeBytes = MULTIPART_THRESHOLD_BYTES + 16 * MiB;
    await assert.rejects(target.put('packs/big', randomBytes(sizeBytes)), isFullNaming(target));
    assert.equal(await target.stat('packs/big'), null);
    const uploads = await admin!.send(new ListMultipartUploadsCommand({ Bucket: MULTIPART }));
    assert.deepEqual((uploads.Uploads ?? []).map((u) => u.Key), [], 'no multipart upload is left pending');
    assert.deepEqual((await target.list('')).map((o) => o.name), ['small']);
  } finally {
    await target.close();
  }
});

test('s3 quota: a user quota counts what the user already stores in other buckets', { timeout: 60_000 }, async (t) => {
  const target = await open(USER, t);
  if (!target) return;
  try {
    for (const bucket of [SMALL, MULTIPART]) await rgw!.setQuota(-1, bucket);
    const other = await open(SMALL, t);
    await other!.put('stored-before', randomBytes(6 * MiB));
    await other!.close();
    let storedBytes = 0;
    for (const bucket of [SMALL, MULTIPART, USER]) {
      const listed = await admin!.send(new ListObjectsV2Command({ Bucket: bucket }));
      for (const o of listed.Contents ?? []) storedBytes += o.Size ?? 0;
    }
    await rgw!.setQuota(storedBytes + 2 * MiB);
    await target.put('fits', randomBytes(MiB));
    await assert.rejects(target.put('over', randomBytes(3 * MiB)), isFullNaming(target));
    assert.deepEqual((await target.list('')).map((o) => o.name), ['fits']);
  } finally {
    await target.close();
  }
});
