// Target throughput on loopback: backup and restore of one image into a local directory,
// SFTP (sshd), FTP (vsftpd) and S3 (radosgw), each as a ratio of the local-directory figure,
// plus `vmbak copy` from the local repository to each remote one. Run by bench/targets.sh.
// Usage: node bench/targets.ts IMAGE  (prints one JSON object)

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { vmbak, tempDir } from '../test/support/vmbak-cli.ts';
import { sftpServer, ftpServer, s3Server } from '../test/support/repo-servers.ts';

const image = process.argv[2]!;
const sizeBytes = statSync(image).size;
const tmp = tempDir('bench-targets');
const [sftp, ftp, s3] = await Promise.all([sftpServer(join(tmp.dir, 'sftp')), ftpServer(false), s3Server('bench')]);
const env = { VMBAK_PASSPHRASE: 'bench', ...sftp.env, ...ftp.env, ...s3.env };
const urls: Record<string, string> = { local: join(tmp.dir, 'local'), sftp: sftp.url('r'), ftp: ftp.url('r'), s3: s3.url('r') };
const copyUrls: Record<string, string> = { sftp: sftp.url('copy'), ftp: ftp.url('copy'), s3: s3.url('copy') };

async function timed(args: string[]): Promise<number> {
  const start = process.hrtime.bigint();
  const r = await vmbak(args[0] === 'repo' ? args : [...args, '--no-progress'], env);
  if (r.code !== 0) throw new Error(`vmbak ${args.join(' ')}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const MB = 1e6;
const out: Record<string, Record<string, number>> = {};
try {
  for (const [kind, url] of Object.entries(urls)) {
    await timed(['repo', 'init', '--repo', url]);
    const backupS = await timed(['backup', '--repo', url, '--image', image, '--vm', 'bench']);
    const restoreS = await timed(['restore', 'latest', '--repo', url, '--to', join(tmp.dir, `out-${kind}`)]);
    out[kind] = { backupMBps: sizeBytes / MB / backupS, restoreMBps: sizeBytes / MB / restoreS };
  }
  for (const kind of ['sftp', 'ftp', 's3']) {
    const to = copyUrls[kind]!;
    await timed(['repo', 'init', '--repo', to]);
    out[kind]!.copyMBps = sizeBytes / MB / await timed(['copy', '--from', urls.local!, '--to', to, '--all']);
  }
  for (const kind of Object.keys(out)) {
    out[kind]!.backupRatio = out[kind]!.backupMBps! / out.local!.backupMBps!;
    out[kind]!.restoreRatio = out[kind]!.restoreMBps! / out.local!.restoreMBps!;
  }
  process.stdout.write(`${JSON.stringify({ imageBytes: sizeBytes, targets: out }, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v))}\n`);
} finally {
  await Promise.all([sftp.stop(), ftp.stop(), s3.stop()]);
  tmp.remove();
}
