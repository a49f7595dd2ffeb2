// A target whose server freezes (SIGSTOP: connections stay open, nothing answers) in the middle
// of a real `vmbak backup` with a second --repo: the run must not hang. With the URL's short
// timeouts, keepalives (SFTP) and transfer timeouts (FTP) turn the silence into a retryable
// TARGET_UNREACHABLE, the retries time out connecting, and the backup completes on the next
// target — all within a bound, after which the process exits.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { vmbak, vmbakMeanwhile, tempDir, qemuImg, jsonLine } from './support/vmbak-cli.ts';
import { sftpServer, ftpServer, type RepoServer } from './support/repo-servers.ts';
import type { Sshd } from './support/sshd.ts';
import type { Vsftpd } from './support/vsftpd.ts';

const tmp = tempDir('frozen');
const disk = join(tmp.dir, 'big.raw');
const servers: { sftp?: RepoServer<Sshd>; ftp?: RepoServer<Vsftpd> } = {};

type BackupJson = { repo: string; events: string[] };

/** Where each server keeps the first repository on disk. */
const repoDirs = {
  sftp: () => join(tmp.dir, 'sftp', 'repo-sftp'),
  ftp: () => join(servers.ftp!.server.rootDir, 'data', 'repo-ftp'),
};

async function untilPackWritten(repoDir: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const names = await readdir(join(repoDir, 'packs'), { recursive: true }).catch(() => [] as string[]);
    if (names.some((name) => /^[0-9a-f]{2}\/[0-9a-f]+$/.test(name))) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no pack appeared in ${repoDir}`);
}

before(async () => {
  qemuImg('create', '-q', '-f', 'raw', disk, '64M');
  execFileSync('dd', ['if=/dev/urandom', `of=${disk}`, 'bs=1M', 'count=48', 'conv=notrunc', 'status=none']);
  [servers.sftp, servers.ftp] = await Promise.all([sftpServer(join(tmp.dir, 'sftp')), ftpServer(false)]);
}, { timeout: 60_000 });

after(async () => {
  await servers.sftp?.stop();
  await servers.ftp?.stop();
  tmp.remove();
});

for (const kind of ['sftp', 'ftp'] as const) {
  test(`${kind} server frozen mid-backup: the backup fails over and exits within a minute`, { timeout: 180_000 }, async (t) => {
    const server = servers[kind]!;
    const env = { VMBAK_PASSPHRASE: 'frozen pass', ...server.env };
    // The limit keeps the backup on the first target long enough to freeze the server under it.
    const first = server.url(`repo-${kind}`) + '?limitMBps=12&timeoutMs=3000&connectTimeoutMs=3000';
    const second = join(tmp.dir, `repo-${kind}-b`);
    for (const repo of [first, second]) {
      const r = await vmbak(['repo', 'init', '--repo', repo, '--pack-size', '4M'], env);
      assert.equal(r.code, 0, r.stderr);
    }
    const startedMs = Date.now();
    try {
      // Frozen once packs are being written: mid-data, not while the run is still starting.
      const r = await vmbakMeanwhile(['backup', '--repo', first, '--repo', second, '--image', disk, '--vm', 'big', '--json', '--no-progress'], env, 0,
        async () => { await untilPackWritten(repoDirs[kind]()); await server.server.pause(); });
      const tookMs = Date.now() - startedMs;
      assert.equal(r.code, 0, r.stderr);
      const j = jsonLine<BackupJson>(r);
      t.diagnostic(`run took ${tookMs} ms; events: ${j.events.join(' | ')}`);
      assert.equal(j.repo, second);
      assert.ok(j.events.some((e) => e.includes(first) && /unreachable/.test(e)), `events tell the first target stopped answering: ${j.events.join(' | ')}`);
      assert.ok(tookMs < 60_000, `the run took ${tookMs} ms`);
    } finally {
      await server.server.resume();
    }
  });
}
