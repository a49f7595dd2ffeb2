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
