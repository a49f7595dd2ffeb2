// Real storage servers for end-to-end tests of repository commands: each helper starts one
// server on loopback and returns a way to make fresh repository URLs on it, plus the
// environment the vmbak CLI needs to reach it (keys, CA file, S3 credentials). Under CI a
// server that cannot start fails the test (the callers do not skip).

import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { startSshd, type Sshd } from './sshd.ts';
import { startVsftpd, type Vsftpd } from './vsftpd.ts';
import { startRadosgw, type Radosgw } from './radosgw.ts';

export interface RepoServer<S> {
  readonly server: S;
  /** Environment for `vmbak` child processes to reach this server. */
  readonly env: Record<string, string>;
  /** A URL for a new, empty repository location on this server. */
  url(name: string): string;
  stop(): Promise<void>;
}

export async function sftpServer(baseDir: string): Promise<RepoServer<Sshd>> {
  const sshd = await startSshd();
  return {
    server: sshd,
    env: { VMBAK_SSH_KEY: sshd.clientKeyPath, VMBAK_KNOWN_HOSTS: sshd.knownHostsPath },
    url: (name) => `sftp://${sshd.user}@${sshd.host}:${sshd.port}${baseDir}/${name}`,
    stop: () => sshd.stop(),
  };
}

export async function ftpServer(tls: boolean): Promise<RepoServer<Vsftpd>> {
  const ftp = await startVsftpd({ tls });
  return {
    server: ftp,
    env: ftp.caFile ? { VMBAK_CA_FILE: ftp.caFile } : {},
    url: (name) => `${tls ? 'ftps' : 'ftp'}://${ftp.host}:${ftp.port}/data/${name}`,
    stop: () => ftp.stop(),
  };
}

export async function s3Server(bucket = 'vmbak-e2e'): Promise<RepoServer<Radosgw>> {
  const rgw = await startRadosgw();
  const admin = new S3Client({
    region: rgw.region, endpoint: rgw.endpoint, forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
  });
  try {
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    admin.destroy();
  }
  return {
    server: rgw,
    env: { AWS_ACCESS_KEY_ID: rgw.accessKeyId, AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey },
    url: (name) => `s3://${bucket}/${name}/?endpoint=${encodeURIComponent(rgw.endpoint)}&region=${rgw.region}`,
    stop: () => rgw.stop(),
  };
}
