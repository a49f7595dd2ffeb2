// Runs the conformance suite and fault tests against a real S3 server: a throwaway Ceph
// radosgw cluster on loopback (test/support/radosgw.ts), started once for this file.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { S3Client, CreateBucketCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { radosgwForTests, startRadosgw, type Radosgw } from '../../test/support/radosgw.ts';
import { findFreePort } from '../../test/support/free-port.ts';
import { registerTargetConformance } from './target-conformance.ts';
import { openTarget } from './open-target.ts';
import { isVmbakError, type Target } from '../core/index.ts';

let rgw: Radosgw | null = null;
let startError: unknown = null;
const BUCKET = 'vmbak-test';
let n = 0;

before(async () => {
  ({ rgw, startError } = await radosgwForTests());
  if (!rgw) return;
  const admin = new S3Client({ region: rgw.region, endpoint: rgw.endpoint, forcePathStyle: true });
  await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
  admin.destroy();
}, { timeout: 120_000 });

after(async () => { await rgw?.stop(); }, { timeout: 30_000 });

function url(prefix: string, extra = ''): string {
  return `s3://${BUCKET}/${prefix}?endpoint=${encodeURIComponent(rgw!.endpoint)}&region=${rgw!.region}${extra}`;
}

async function open(): Promise<Target> {
  if (!rgw) throw new Error(`radosgw did not start: ${String(startError)}`);
  return await openTarget(url(`t${n++}/`));
}

registerTargetConformance('s3', open);

test('s3: failed multipart upload is aborted and leaves nothing', { timeout: 120_000 }, async () => {
  const target = await open();
  const name = 'mp/dropped.bin';
  // A gateway that dies mid-upload: the put must fail (not hang) and no object may appear.
  const put = target.put(name, randomBytes(400 * 1024 * 1024)); // large enough to still be uploading when the gateway dies
  setTimeout(() => { void rgw!.killGateway(); }, 300);
  await assert.rejects(put, (err) => isVmbakError(err) && (err.code === 'TARGET_IO' || err.code === 'TARGET_UNREACHABLE') && err.retryable);
  await target.close();
  // Restart so later tests in this file keep working.
  await rgw!.stop();
  rgw = await startRadosgw();
  process.env.AWS_ACCESS_KEY_ID = rgw.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = rgw.secretAccessKey;
  const admin = new S3Client({ region: rgw.region, endpoint: rgw.endpoint, forcePathStyle: true });
  await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const uploads = await admin.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
  assert.equal(uploads.Uploads?.length ?? 0, 0);
  admin.destroy();
});

test('s3: connection refused is TARGET_UNREACHABLE naming the target', async () => {
  const port = await findFreePort();
  const target = await openTarget(`s3://bucket/p/?endpoint=http://127.0.0.1:${port}&region=us-east-1`);
  await assert.rejects(target.get('x'), (err) => isVmbakError(err, 'TARGET_UNREACHABLE') && err.message.includes(`127.0.0.1:${port}`));
  await target.close();
});

test('s3: wrong secret is TARGET_DENIED and the secret is not in the message', async () => {
  const saved = process.env.AWS_SECRET_ACCESS_KEY;
  process.env.AWS_SECRET_ACCESS_KEY = 'definitely-wrong-secret';
  try {
    const target = await open();
    await assert.rejects(target.put('x', Buffer.from('x')), (err) =>
      isVmbakError(err, 'TARGET_DENIED') && !err.message.includes('definitely-wrong-secret') && !err.message.includes('\n'));
    await target.close();
  } finally {
    process.env.AWS_SECRET_ACCESS_KEY = saved;
  }
});

test('s3: a missing bucket is BUCKET_MISSING for every operation until prepare makes it', async () => {
  const bucket = 'vmbak-made-by-prepare';
  const location = `s3://${bucket}/repo/?endpoint=${encodeURIComponent(rgw!.endpoint)}&region=${rgw!.region}`;
  const target = await openTarget(location);
  const missing = (err: unknown): boolean => isVmbakError(err, 'BUCKET_MISSING') && !err.retryable
    && err.message === `bucket ${bucket} does not exist on ${target.displayUrl}`;
  // stat's HEAD gets a bare 404 either way: it must still tell a missing bucket from a missing key.
  await assert.rejects(target.stat('config'), missing);
  await assert.rejects(target.get('config'), missing);
  await assert.rejects(target.get('config', { offsetBytes: 0, lengthBytes: 0 }), missing);
  await assert.rejects(target.list(''), missing);
  await assert.rejects(target.put('x', Buffer.from('x')), missing);
  await assert.rejects(target.create('x', Buffer.from('x')), missing);
  await assert.rejects(target.delete('x'), missing);
  // Two inits racing for the same new bucket both succeed.
  const other = await openTarget(location);
  await Promise.all([target.prepare!(), other.prepare!()]);
  await target.prepare!();
  assert.equal(await other.stat('config'), null, 'a missing key in an existing bucket is no object, not an error');
  assert.equal(await target.create('config', Buffer.from('c')), true);
  assert.equal((await other.get('config')).toString(), 'c');
  await target.close();
  await other.close();
});
