// Starts vsftpd on a free loopback port for tests: anonymous login, writable folder /data
// (owned by the ftp user), passive mode on loopback, optionally FTPS (explicit TLS) with a
// throwaway self-signed certificate for 127.0.0.1 whose path is returned as caFile.

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, writeFile, rm, mkdir, chown, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findFreePort, stopProcess, waitForPort } from './free-port.ts';
import { signalTree } from './process-tree.ts';

const run = promisify(execFile);

export interface Vsftpd {
  readonly host: string;
  readonly port: number;
  /** The anonymous root on disk; FTP path /data is `${rootDir}/data`. */
  readonly rootDir: string;
  readonly caFile: string | null;
  kill(): Promise<void>;
  /** Freezes vsftpd and its sessions (SIGSTOP): connections stay open and nothing answers. */
  pause(): Promise<void>;
  /** Lets a paused vsftpd and its sessions run on (SIGCONT). */
  resume(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function ftpIds(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('id', ['ftp']);
  const uid = Number(/uid=(\d+)/.exec(stdout)![1]);
  const gid = Number(/gid=(\d+)/.exec(stdout)![1]);
  return { uid, gid };
}

export async function startVsftpd(options: { tls: boolean }): Promise<Vsftpd> {
  const dir = await mkdtemp(join(tmpdir(), 'vmbak-ftp-'));
  await chmod(dir, 0o755);
  const rootDir = join(dir, 'root');
  await mkdir(join(rootDir, 'data'), { recursive: true, mode: 0o755 });
  await mkdir(join(dir, 'empty'), { mode: 0o755 });
  const { uid, gid } = await ftpIds();
  await chown(join(rootDir, 'data'), uid, gid);
  const port = await findFreePort();
  const pasvBase = 20_000 + Math.floor(Math.random() * 20_000);
  let caFile: string | null = null;
  const conf = [
    'listen=YES', 'listen_address=127.0.0.1', `listen_port=${port}`, 'background=NO', 'listen_ipv6=NO',
    'anonymous_enable=YES', 'local_enable=NO', 'write_enable=YES', 'no_anon_password=YES',
    'anon_upload_enable=YES', 'anon_mkdir_write_enable=YES', 'anon_other_write_enable=YES',
    'anon_world_readable_only=NO', `anon_root=${rootDir}`, 'anon_umask=022',
    'isolate=NO', 'isolate_network=NO', 'seccomp_sandbox=NO', `secure_chroot_dir=${join(dir, 'empty')}`,
    'pasv_enable=YES', 'pasv_address=127.0.0.1', `pasv_min_port=${pasvBase}`, `pasv_max_port=${pasvBase + 200}`,
    'connect_from_port_20=NO', 'xferlog_enable=NO', 'max_clients=200', 'max_per_ip=200', 'dirmessage_enable=NO',
    `vsftpd_log_file=${join(dir, 'vsftpd.log')}`,
  ];
  if (options.tls) {
    // require_ssl_reuse=YES is vsftpd's default: data connections must resume the control
    // connection's TLS session, as on a user's server.
    caFile = join(dir, 'cert.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', caFile,
      '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    conf.push('ssl_enable=YES', 'allow_anon_ssl=YES', 'force_anon_data_ssl=YES', 'force_anon_logins_ssl=YES',
      `rsa_cert_file=${caFile}`, `rsa_private_key_file=${join(dir, 'key.pem')}`, 'require_ssl_reuse=YES', 'ssl_ciphers=HIGH');
  }
  await writeFile(join(dir, 'vsftpd.conf'), conf.join('\n') + '\n');
  const launch = () => spawn('/usr/sbin/vsftpd', [join(dir, 'vsftpd.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let child = launch();
  try {
    await waitForPort(port, 10_000, child);
  } catch (err) {
    await stopProcess(child);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  // vsftpd forks a process per session; killing the children drops every transfer at once.
  // The listener is taken before the first await, so a restart() meanwhile cannot make the old
  // one escape; it is stopped first so it forks no new session while its sessions are killed.
  const killAll = async (): Promise<void> => {
    const victim = child;
    signalTree(victim.pid!, 'SIGKILL');
    await stopProcess(victim);
  };
  return {
    host: '127.0.0.1', port, rootDir, caFile,
    kill: killAll,
    pause: async () => signalTree(child.pid!, 'SIGSTOP'),
    resume: async () => signalTree(child.pid!, 'SIGCONT'),
    restart: async () => { child = launch(); await waitForPort(port, 10_000, child); },
    stop: async () => {
      await killAll();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
