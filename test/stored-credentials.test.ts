// A controller opens each repository with the credentials stored for it, not with whatever
// the process environment holds: an S3 repository (Ceph radosgw on loopback) whose keys are
// given only in the config file's credentialsFile is rebuilt into the catalog and verified by
// a job, while the same bucket named without credentials is refused for want of them.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Controller, type ControllerLog } from '../src/controller/index.ts';
import { getBackup, listJobs } from '../src/catalog/index.ts';
import { isVmbakError } from '../src/core/index.ts';
import { vmbak, tempDir, qemuImg, qemuIo, jsonLine } from './support/vmbak-cli.ts';
import { startRadosgw, type Radosgw } from './support/radosgw.ts';

const tmp = tempDir('stored-creds');
let rgw: Radosgw | null = null;
let startError: unknown = null;

before(async () => {
  try {
    rgw = await startRadosgw();
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    startError = err;
  }
}, { timeout: 120_000 });

after(async () => {
  await rgw?.stop();
  tmp.remove();
}, { timeout: 30_000 });

const quiet: ControllerLog = { info: () => {}, warn: () => {}, error: () => {} };

test('a controller opens an S3 repository with its stored keys, not the process environment', { timeout: 180_000 }, async (t) => {
  if (!rgw) return t.skip(`radosgw did not start: ${String(startError)}`);
  assert.equal(process.env.AWS_ACCESS_KEY_ID, undefined, 'this process has no AWS keys of its own');
  const url = `s3://vmbak-stored/repo/?endpoint=${encodeURIComponent(rgw.endpoint)}&region=${rgw.region}`;
  const keys = { AWS_ACCESS_KEY_ID: rgw.accessKeyId, AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey, VMBAK_PASSPHRASE: 'stored pass' };
  const disk = join(tmp.dir, 'small.raw');
  qemuImg('create', '-q', '-f', 'raw', disk, '4M');
  qemuIo(disk, 'raw', 'write -P 0x5a 0 1M');
  assert.equal((await vmbak(['repo', 'init', '--repo', url], keys)).code, 0);
  const made = await vmbak(['backup', '--repo', url, '--image', disk, '--vm', 'small', '--json', '--no-progress'], keys);
  assert.equal(made.code, 0, made.stderr);
  const { backupId } = jsonLine<{ backupId: string }>(made);

  writeFileSync(join(tmp.dir, 'repo.pass'), 'stored pass\n');
  writeFileSync(join(tmp.dir, 's3.env'), `# the bucket's keys\nAWS_ACCESS_KEY_ID=${rgw.accessKeyId}\nAWS_SECRET_ACCESS_KEY=${rgw.secretAccessKey}\n`);
  writeFileSync(join(tmp.dir, 'vmbak.yaml'), `
repositories:
  - { name: offsite, url: "${url}", passphraseFile: repo.pass, credentialsFile: s3.env }
  - { name: nokeys, url: "${url}", passphraseFile: repo.pass }
policies: []
`);
  const controller = await Controller.open({ dataDir: join(tmp.dir, 'data'), configFile: join(tmp.dir, 'vmbak.yaml'), localAgent: true, streams: 1, log: quiet });
  t.after(() => controller.stop());
  assert.deepEqual(await controller.rebuildBackups('offsite'), { added: 1, removed: 0 });
  await assert.rejects(controller.rebuildBackups('nokeys'), (err) => isVmbakError(err, 'TARGET_DENIED') && /credentials/i.test(err.message));

  const job = await controller.submitJob({ kind: 'verify', repository: 'offsite', scope: 'all' }, 'test');
  const deadline = Date.now() + 60_000;
  let state = job.state;
  while (['queued', 'running'].includes(state) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    state = (await listJobs(controller.catalog, { kind: 'verify' })).items[0]!.state;
  }
  assert.equal(state, 'succeeded', (await listJobs(controller.catalog, { kind: 'verify' })).items[0]!.error ?? '');
  assert.equal((await getBackup(controller.catalog, 'offsite', backupId))?.verifyState, 'ok');
});
