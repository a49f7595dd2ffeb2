// Starts OpenSSH sshd on a free loopback port for tests, with a throwaway host key and a
// generated client key, all in a temp directory; logs in as the current user (root here)
// with that key only. Optionally also a system account that may log in by password only.
// Returns where it listens, the key path, and kill/pause/resume/restart/stop.

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, writeFile, rm, mkdir, readFile, chmod } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findFreePort, stopProcess, waitForPort } from './free-port.ts';
import { signalTree } from './process-tree.ts';

const run = promisify(execFile);

export interface Sshd {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly clientKeyPath: string;
  /** A known_hosts path for vmbak to pin into (empty at start). */
  readonly knownHostsPath: string;
  readonly dir: string;
  /** The password-only account, when asked for. */
  readonly passwordAccount: PasswordAccount | null;
  /** Kills sshd and its sessions at once (for dropped-connection tests). */
  kill(): Promise<void>;
  /** Freezes sshd and its sessions (SIGSTOP): connections stay open and nothing answers. */
  pause(): Promise<void>;
  /** Lets a paused sshd and its sessions run on (SIGCONT). */
  resume(): Promise<void>;
  /** Starts it again on the same port, optionally with a new host key. */
  restart(newHostKey?: boolean): Promise<void>;
  stop(): Promise<void>;
}

export interface PasswordAccount {
  readonly user: string;
  readonly password: string;
  /** A directory the account owns, for its repositories. */
  readonly dir: string;
}

export interface SshdOptions {
  /** Also a system account that may log in by password only (created, removed by stop()). */
  readonly passwordAccount?: boolean;
}

const PASSWORD_USER = 'vmbak-sftp-pw';

/** sshd checks passwords against the system's accounts (UsePAM no: /etc/shadow). */
async function makePasswordAccount(dir: string): Promise<PasswordAccount> {
  const created = await run('id', [PASSWORD_USER]).then(() => false, () => true);
  if (created) await run('useradd', ['--no-create-home', '--home-dir', dir, '--shell', '/bin/sh', PASSWORD_USER]);
  const password = randomBytes(12).toString('hex');
  await new Promise<void>((resolve, reject) => {
    const p = spawn('chpasswd', [], { stdio: ['pipe', 'ignore', 'inherit'] });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`chpasswd exited ${code}`))));
    p.stdin.end(`${PASSWORD_USER}:${password}\n`);
  });
  const repoDir = join(dir, 'pw-home');
  await mkdir(repoDir, { mode: 0o755 });
  await run('chown', [PASSWORD_USER, repoDir]);
  return { user: PASSWORD_USER, password, dir: repoDir };
}

export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  const dir = await mkdtemp(join(tmpdir(), 'vmbak-sshd-'));
  await chmod(dir, 0o755); // the password account must reach its folder inside
  const account = options.passwordAccount ? await makePasswordAccount(dir) : null;
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const port = await findFreePort();
  const keygen = (path: string) => run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
  await keygen(join(dir, 'host_key'));
  await keygen(join(dir, 'client_key'));
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_key.pub')), { mode: 0o600 });
  await writeFile(join(dir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
    'StrictModes no', 'UsePAM no', 'Subsystem sftp internal-sftp', 'LogLevel ERROR', 'MaxStartups 64', 'MaxSessions 64',
    // Password only for that account, so a test that logs in as it proves the password worked.
    ...(account ? [`Match User ${account.user}`, '  PasswordAuthentication yes', '  AuthenticationMethods password'] : []),
  ].join('\n') + '\n');
  let child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const attach = (): void => { child.stderr?.on('data', (d: Buffer) => { log += d.toString(); }); };
  attach();
  const start = async (): Promise<void> => {
    try {
      await waitForPort(port, 10_000, child);
    } catch (err) {
      throw new Error(`sshd did not start: ${(err as Error).message}; ${log.trim()}`);
    }
  };
  try {
    await start();
  } catch (err) {
    await stopProcess(child);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    host: '127.0.0.1', port, user: userInfo().username, dir, passwordAccount: account,
    clientKeyPath: join(dir, 'client_key'),
    knownHostsPath: join(dir, 'vmbak_known_hosts'),
    // The listener is stopped first so it forks no new session while its sessions are killed.
    // It is taken before the first await: a restart() meanwhile replaces `child`, and the old
    // listener must still be the one killed (else it outlives the test and holds the test open).
    kill: async () => {
      const victim = child;
      signalTree(victim.pid!, 'SIGKILL');
      await stopProcess(victim);
    },
    pause: async () => signalTree(child.pid!, 'SIGSTOP'),
    resume: async () => signalTree(child.pid!, 'SIGCONT'),
    restart: async (newHostKey = false) => {
      if (newHostKey) { await rm(join(dir, 'host_key'), { force: true }); await rm(join(dir, 'host_key.pub'), { force: true }); await keygen(join(dir, 'host_key')); }
      child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
      attach();
      await start();
    },
    stop: async () => {
      const victim = child;
      signalTree(victim.pid!, 'SIGKILL');
      await stopProcess(victim);
      if (account) await run('userdel', [account.user]).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** sshd for a test file's targets: started, with vmbak's SSH key and known-hosts settings in this process's environment. */
export async function startSshdForTargets(): Promise<Sshd> {
  const sshd = await startSshd();
  process.env.VMBAK_SSH_KEY = sshd.clientKeyPath;
  process.env.VMBAK_KNOWN_HOSTS = sshd.knownHostsPath;
  return sshd;
}
