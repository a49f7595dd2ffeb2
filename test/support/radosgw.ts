// Starts a throwaway Ceph cluster with an S3 gateway on loopback for tests: one monitor, one
// memstore OSD and radosgw, auth off, pool size 1, every file in one temp directory. Ready in
// about 10 s. Needs `radosgw ceph-mon ceph-osd` (scripts/install-system-deps.sh).
// Two settings matter beyond TESTBED.md: with auth "none" the messenger must be allowed crc
// mode (`ms mon client mode = crc`), or radosgw's monitor handshake fails with EACCES and it
// hangs for five minutes; and pools default to 8 PGs so rgw's pools fit one OSD.
// Quotas (`setQuota`) need no ceph.conf settings: the one gateway reads a bucket's usage from
// its index at the first write after `quota enable` and adds every write to its cached
// figures, so the stats TTL and sync intervals never come into play. A user's usage is a
// stored total that lags (`rgw user quota bucket sync interval`, 180 s), hence
// `user stats --sync-stats` right after setting a user quota. A put that would go past the
// limit is refused up front with 403 QuotaExceeded (usage may reach the limit exactly).

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, writeFile, rm, open } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findFreePort, stopProcess } from './free-port.ts';

const run = promisify(execFile);

export interface Radosgw {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
  /** Kills the gateway only (the cluster stays), to test a store that goes away. */
  killGateway(): Promise<void>;
  /**
   * Limits the test user to `maxSizeBytes` across all its buckets (or one bucket's contents
   * with `bucket`) and enforces it at once; -1 lifts the limit.
   */
  setQuota(maxSizeBytes: number, bucket?: string): Promise<void>;
  stop(): Promise<void>;
}

function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
ms mon client mode = crc
ms client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
ms cluster mode = crc
ms service mode = crc
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
mon allow pool size one = true
mon allow pool delete = true
mon data avail warn = 1
mon data avail crit = 0
osd crush chooseleaf type = 0
run dir = ${dir}/run
log file = ${dir}/log/$name.log
admin socket = ${dir}/run/$name.asok
keyring = ${dir}/keyring
[mon.a]
mon data = ${dir}/mon
[osd.0]
osd data = ${dir}/osd
osd objectstore = memstore
memstore device bytes = 3221225472
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw
rgw init timeout = 60
`;
}

async function startDaemon(dir: string, name: string, args: string[]): Promise<ChildProcess> {
  const out = await open(join(dir, 'log', `${name}.stdout`), 'w');
  const child = spawn(args[0]!, args.slice(1), { stdio: ['ignore', out.fd, out.fd] });
  child.once('exit', () => { void out.close(); });
  return child;
}

async function waitForS3(endpoint: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`radosgw exited with code ${child.exitCode}`);
    const ok = await fetch(endpoint).then((r) => r.status > 0, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`radosgw did not answer on ${endpoint} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * A gateway for a test file, its keys in the AWS SDK's environment; when one cannot start, the
 * reason instead (under CI=true that is a failure, not a skip).
 */
export async function radosgwForTests(): Promise<{ rgw: Radosgw | null; startError: unknown }> {
  try {
    const rgw = await startRadosgw();
    process.env.AWS_ACCESS_KEY_ID = rgw.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = rgw.secretAccessKey;
    return { rgw, startError: null };
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    return { rgw: null, startError: err };
  }
}

export async function startRadosgw(): Promise<Radosgw> {
  const dir = await mkdtemp(join(tmpdir(), 'vmbak-rgw-'));
  const children: ChildProcess[] = [];
  const stopAll = async (): Promise<void> => {
    for (const c of children.reverse()) await stopProcess(c, 2000);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const sub of ['mon', 'osd', 'run', 'log', 'rgw']) await mkdir(join(dir, sub));
    const [monPort, rgwPort] = [await findFreePort(), await findFreePort()];
    const fsid = randomUUID();
    const conf = join(dir, 'ceph.conf');
    await writeFile(conf, cephConf(dir, fsid, monPort, rgwPort));
    const opts = { timeout: 60_000 };
    await run('ceph-authtool', ['--create-keyring', join(dir, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'], opts);
    await run('monmaptool', ['--create', '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, '--fsid', fsid, join(dir, 'monmap')], opts);
    await run('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--keyring', join(dir, 'keyring')], opts);
    children.push(await startDaemon(dir, 'mon', ['ceph-mon', '-c', conf, '-i', 'a', '-f']));
    await run('ceph', ['-c', conf, '--connect-timeout', '30', 'osd', 'create'], opts);
    await run('ceph-osd', ['-c', conf, '-i', '0', '--mkfs'], opts);
    children.push(await startDaemon(dir, 'osd', ['ceph-osd', '-c', conf, '-i', '0', '-f']));
    const rgw = await startDaemon(dir, 'rgw', ['radosgw', '-c', conf, '-n', 'client.rgw', '-f']);
    children.push(rgw);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await waitForS3(endpoint, 60_000, rgw);
    const accessKeyId = 'VMBAKTESTKEY';
    const secretAccessKey = 'vmbak-test-secret';
    await run('radosgw-admin', ['-c', conf, 'user', 'create', '--uid=test', '--display-name=test',
      `--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`], opts);
    return {
      endpoint, accessKeyId, secretAccessKey, region: 'us-east-1',
      killGateway: async () => { rgw.kill('SIGKILL'); await stopProcess(rgw); },
      setQuota: async (maxSizeBytes, bucket) => {
        const scope = bucket ? ['--quota-scope=bucket', `--bucket=${bucket}`] : ['--quota-scope=user'];
        await run('radosgw-admin', ['-c', conf, 'quota', 'set', '--uid=test', ...scope, `--max-size=${maxSizeBytes}`], opts);
        await run('radosgw-admin', ['-c', conf, 'quota', maxSizeBytes < 0 ? 'disable' : 'enable', '--uid=test', ...scope], opts);
        if (!bucket) await run('radosgw-admin', ['-c', conf, 'user', 'stats', '--uid=test', '--sync-stats'], opts);
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
