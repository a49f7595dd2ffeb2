// Two hosts, one repository: a backup on "host A" and gc on "host B" (each vmbak process in a
// UTS namespace of its own, `unshare -u`, so each sees its own host name), on a local
// directory, SFTP (sshd) and S3 (radosgw). Whatever A's lease does — refreshes failing, the
// process frozen past the stale window, B's clock 20 minutes ahead — no backup either records
// refers to missing data, every earlier backup restores bit-identically, and A either
// finishes or stops with LEASE_LOST before its manifest. Then: two processes racing for one
// lock, held by the fault wrapper between their look and their create, on every target type;
// and a damaged lock object, which stops gc before it deletes anything.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  MAIN, vmbak, tempDir, qemuImg, sha256File, jsonLine, isCleanError, repoFiles, waitUntil, type CliResult,
} from './support/vmbak-cli.ts';
import { sftpServer, ftpServer, s3Server, type RepoServer } from './support/repo-servers.ts';

const RACER = fileURLToPath(new URL('./support/lock-racer.ts', import.meta.url));
const tmp = tempDir('multi-host');
const disk = join(tmp.dir, 'app.raw');
const servers: RepoServer<unknown>[] = [];
let serverEnv: Record<string, string> = {};
const urls: Record<string, (name: string) => string> = { local: (name) => join(tmp.dir, name) };
let seed = 0;

before(async () => {
  execFileSync('faketime', ['-f', '+0', 'true']); // fails the file at once if faketime is missing
  qemuImg('create', '-q', '-f', 'raw', disk, '48M');
  const started = await Promise.all([sftpServer(join(tmp.dir, 'sftp')), ftpServer(false), s3Server('vmbak-hosts')]);
  servers.push(...started);
  const [sftp, ftp, s3] = started;
  urls.sftp = sftp.url;
  urls.ftp = ftp.url;
  urls.s3 = s3.url;
  for (const s of started) serverEnv = { ...serverEnv, ...s.env };
}, { timeout: 120_000 });

after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  tmp.remove();
}, { timeout: 60_000 });

/** New incompressible content for the disk, so each backup writes packs of its own. */
function changeDisk(): string {
  seed++;
  execFileSync('sh', ['-c', `openssl enc -aes-256-ctr -nosalt -pass pass:hosts${seed} -pbkdf2 < /dev/zero 2>/dev/null | head -c 40M | dd of=${disk} conv=notrunc status=none`]);
  return sha256File(disk);
}

interface HostRun {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
}

/** Runs vmbak as host `host` (own UTS namespace), optionally with its clock moved by faketime. */
function onHost(host: string, args: string[], env: Record<string, string>, clockOffset?: string): HostRun {
  const node = [process.execPath, MAIN, ...args];
  const cmd = clockOffset ? ['faketime', '-f', clockOffset, ...node] : node;
  // Each host's job records in a state folder of its own: a killed run's record names a host
  // that exists only in this test, so this host's `vmbak jobs` would list it for ever.
  const stateDir = join(tmp.dir, `state-${host}`);
  const child = spawn('unshare', ['-u', 'sh', '-c', `hostname ${host} && exec "$@"`, 'sh', ...cmd], {
    env: { ...process.env, ...serverEnv, FAKETIME_DONT_FAKE_MONOTONIC: '1', VMBAK_STATE_DIR: stateDir, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d; });
  child.stderr!.on('data', (d: Buffer) => { stderr += d; });
  const done = new Promise<CliResult>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

async function ok(host: string, args: string[], env: Record<string, string>, clockOffset?: string): Promise<CliResult> {
  const r = await onHost(host, args, env, clockOffset).done;
  assert.equal(r.code, 0, `vmbak ${args.join(' ')} on ${host}: ${r.stdout}${r.stderr}`);
  return r;
}

class Scenario {
  readonly env: Record<string, string>;
  readonly backups: { id: string; digest: string }[] = [];
  private readonly kind: string;

  constructor(kind: string, name: string) {
    this.kind = kind;
    this.env = { VMBAK_PASSPHRASE: 'two hosts', VMBAK_REPO: urls[kind]!(name) };
  }

  async init(): Promise<void> {
    await ok('hosta', ['repo', 'init', '--pack-size', '4M'], this.env);
    await this.backupOk();
  }

  async backupOk(env: Record<string, string> = {}): Promise<void> {
    const digest = changeDisk();
    const r = await ok('hosta', ['backup', '--image', disk, '--vm', 'app', '--json'], { ...this.env, ...env });
    this.backups.push({ id: jsonLine<{ backupId: string }>(r).backupId, digest });
  }

  /** A backup on host A held by the fault wrapper at its second pack upload. */
  async startHeldBackup(extraFaults: object[], env: Record<string, string>): Promise<{ run: HostRun; release: () => void; digest: string }> {
    const heldFile = join(tmp.dir, `held-${seed}-${this.kind}`);
    const releaseFile = join(tmp.dir, `release-${seed}-${this.kind}`);
    const digest = changeDisk();
    const faults = [...extraFaults, { op: 'put', match: 'packs/', nth: 2, action: 'hold', heldFile, releaseFile }];
    const run = onHost('hosta', ['backup', '--image', disk, '--vm', 'app', '--json'], { ...this.env, ...env, VMBAK_TEST_FAULTS: JSON.stringify(faults) });
    await waitUntil('host A\'s backup to reach its second pack', () => existsSync(heldFile), 60_000);
    return { run, release: () => writeFileSync(releaseFile, ''), digest };
  }

  async backupCount(): Promise<number> {
    const r = await ok('hosta', ['backups', 'ls', '--json'], this.env);
    return (JSON.parse(r.stdout) as unknown[]).length;
  }

  /** Every recorded backup restores bit-identically; check --read-data and verify pass. */
  async assertIntact(): Promise<void> {
    assert.equal(await this.backupCount(), this.backups.length, 'exactly the backups that reported success exist');
    for (const b of this.backups) {
      const out = join(tmp.dir, `restore-${Math.random().toString(36).slice(2)}`);
      await ok('hostb', ['restore', b.id, '--to', out, '--no-progress'], this.env);
      assert.equal(sha256File(join(out, 'app.raw')), b.digest, `backup ${b.id} restores bit-identically`);
    }
    await ok('hostb', ['check', '--read-data'], this.env);
    await ok('hostb', ['verify', '--no-progress'], this.env);
  }
}

function assertLeaseLost(r: CliResult): void {
  assert.notEqual(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, /vmbak: .*lost the lock on VM app/, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

for (const kind of ['local', 'sftp', 's3']) {
  test(`${kind}: gc on host B while host A's lock refreshes fail — A stops before its manifest, nothing is lost`, async () => {
    const s = new Scenario(kind, 'refresh-fails');
    await s.init();
    // Every refresh of A's backup lock fails (its first create, the acquisition, goes through).
    const refreshFails = { op: 'create', match: 'locks/vm-', from: 2, action: 'fail' };
    const a = await s.startHeldBackup([refreshFails], { VMBAK_LOCK_STALE_MS: '3000' });
    await sleep(3500); // past A's stale window, by any clock
    const gc = await ok('hostb', ['gc', '--json'], s.env);
    assert.equal(jsonLine<{ staleLocksRemoved: number }>(gc).staleLocksRemoved, 1, 'B took the stale lock over');
    a.release();
    assertLeaseLost(await a.run.done);
    await s.assertIntact();
    await s.backupOk(); // the next backup of A succeeds
    await s.assertIntact();
  });
}

test('s3: host A frozen (SIGSTOP) past the stale window while host B runs gc — A finds its lease lost and stops', async () => {
  const s = new Scenario('s3', 'sigstop');
  await s.init();
  const a = await s.startHeldBackup([], { VMBAK_LOCK_STALE_MS: '3000' });
  a.run.child.kill('SIGSTOP');
  a.release();
  await sleep(4000);
  await ok('hostb', ['gc'], s.env);
  a.run.child.kill('SIGCONT');
  assertLeaseLost(await a.run.done);
  await s.assertIntact();
});

test('local: host A stopped a few seconds mid-backup while gc runs on host B with its clock 20 minutes ahead — nothing is lost', async () => {
  // Timed by the packs in the repository, not by the fault wrapper.
  const s = new Scenario('local', 'skew');
  await s.init();
  const repo = s.env.VMBAK_REPO!;
  const packsBefore = repoFiles(repo, 'packs').length;
  const digest = changeDisk();
  const a = onHost('hosta', ['backup', '--image', disk, '--vm', 'app', '--json'], s.env);
  await waitUntil('host A\'s first packs', () => repoFiles(repo, 'packs').length >= packsBefore + 2, 60_000, 5);
  a.child.kill('SIGSTOP');
  try {
    await ok('hostb', ['gc'], s.env, '+20m');
  } finally {
    a.child.kill('SIGCONT');
  }
  const r = await a.done;
  // A either finished (B saw its lease live, by the server's clock) or stopped before recording.
  if (r.code === 0) s.backups.push({ id: jsonLine<{ backupId: string }>(r).backupId, digest });
  else assertLeaseLost(r);
  await s.assertIntact();
});

test('a lock object that cannot be read stops gc with one line naming it; nothing is deleted', async () => {
  const s = new Scenario('local', 'corrupt-lock');
  await s.init();
  const repo = s.env.VMBAK_REPO!;
  // Leave an unreferenced pack behind (a backup killed after its first packs), then damage a lock.
  const a = onHost('hosta', ['backup', '--image', (changeDisk(), disk), '--vm', 'app'], s.env);
  const before = repoFiles(repo, 'packs').length;
  await waitUntil('an orphan pack', () => repoFiles(repo, 'packs').length > before, 60_000, 5);
  a.child.kill('SIGKILL');
  await a.done;
  mkdirSync(join(repo, 'locks', 'vm-other'), { recursive: true });
  writeFileSync(join(repo, 'locks', 'vm-other', '000000000001.lock'), '{"host": "hostc", "pid"');
  const everything = (): string[] => readdirSync(repo, { recursive: true }).map(String).sort();
  const snapshot = everything();
  const r = await onHost('hostb', ['gc'], s.env).done;
  assert.ok(isCleanError(r), r.stderr);
  assert.match(r.stderr, /lock object locks\/vm-other\/000000000001\.lock .* is damaged/);
  assert.deepEqual(everything().filter((f) => !f.startsWith('locks')), snapshot.filter((f) => !f.startsWith('locks')), 'gc deleted nothing');
});

for (const kind of ['local', 'sftp', 'ftp', 's3']) {
  test(`${kind}: two processes racing for one free lock — exactly one wins, 20 rounds`, async () => {
    const location = urls[kind]!('race');
    for (let round = 0; round < 20; round++) {
      const name = `vm-race-${round}`;
      const releaseFile = join(tmp.dir, `race-${kind}-${round}-go`);
      const doneFile = join(tmp.dir, `race-${kind}-${round}-done`);
      const racers = [0, 1].map((k) => {
        const heldFile = join(tmp.dir, `race-${kind}-${round}-${k}`);
        // Both look, find the lock free, and are held right before their create.
        const faults = [{ op: 'create', match: `locks/${name}/`, nth: 1, action: 'hold', heldFile, releaseFile }];
        const child = spawn(process.execPath, [RACER, location, name, doneFile], { env: { ...process.env, ...serverEnv, VMBAK_TEST_FAULTS: JSON.stringify(faults) }, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => { out += d; });
        child.stderr.on('data', (d: Buffer) => { err += d; });
        const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
        return { heldFile, answer: () => out.trim() || (child.exitCode !== null ? `failed: ${err}` : ''), closed };
      });
      await waitUntil(`both racers of round ${round} at their create`, () => racers.every((r) => existsSync(r.heldFile)), 30_000);
      writeFileSync(releaseFile, '');
      // Both answer while the winner still holds the lock (it is alive, not a dead owner).
      const results = (await waitUntil(`both racers of round ${round} to answer`, () => {
        const answers = racers.map((r) => r.answer());
        return answers.every((a) => a) ? answers : null;
      }, 30_000)).sort();
      writeFileSync(doneFile, '');
      await Promise.all(racers.map((r) => r.closed));
      assert.deepEqual(results, ['locked', 'won'], `round ${round} on ${kind}`);
    }
  });
}
