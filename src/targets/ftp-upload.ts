// STOR of one buffer over a passive data connection that this module opens and owns, in place
// of basic-ftp's uploadFrom, for two behaviours found against vsftpd:
// - A failed write on the server (disk full): vsftpd resets the data connection and only then
//   replies "451 Failure writing to local file" on the control connection. basic-ftp treats a
//   data-connection error as fatal and closes the control connection before that reply can
//   arrive, so the cause was lost. Here a data-connection error waits a short grace period for
//   the server's reply, which is the better explanation, and the control connection stays usable.
// - FTPS: basic-ftp starts writing once getCipher() is defined, which it already is before the
//   handshake when a TLS session is being resumed; with nothing to write it then ends the
//   connection mid-handshake, and the server fails the transfer ("unexpected eof") and writes a
//   plain-text error into the TLS control channel. Here nothing is written or ended before
//   'secureConnect'.

import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import type { Client, FTPResponse } from 'basic-ftp';

type FtpContext = Client['ftp'];

/** How long a broken data connection waits for the server's reply before giving up on it. */
const REPLY_GRACE_MS = 5_000;

export async function storeBuffer(client: Client, remotePath: string, data: Buffer): Promise<FTPResponse> {
  const ftp = client.ftp;
  const conn = await openPassiveData(ftp);
  try {
    return await store(ftp, conn, remotePath, data);
  } finally {
    conn.socket.destroy();
  }
}

interface DataConnection {
  readonly socket: Socket;
  /** Resolves when the data connection can carry bytes (after the TLS handshake under FTPS). */
  readonly ready: Promise<void>;
}

async function store(ftp: FtpContext, conn: DataConnection, remotePath: string, data: Buffer): Promise<FTPResponse> {
  const { socket } = conn;
  let started = false;
  let sent = false;
  let settled = false;
  let completion: FTPResponse | null = null;
  let graceTimer: NodeJS.Timeout | undefined;
  const broken = (err: Error): void => {
    if (settled || graceTimer) return;
    // closeWithError hands the error to the handler below, which rejects the transfer.
    graceTimer = setTimeout(() => ftp.closeWithError(err), Math.min(ftp.timeout, REPLY_GRACE_MS));
  };
  socket.on('error', (err: Error) => {
    err.message += ' (data socket)';
    broken(err);
  });
  // A data connection that ends before all was sent, without an error, is as broken.
  socket.once('close', () => { if (!sent) broken(new Error('data connection closed before the upload ended')); });
  socket.once('timeout', () => ftp.closeWithError(new Error('Timeout (data socket)')));
  return await ftp.handle(`STOR ${remotePath}`, (res, task) => {
    const resolve = (r: FTPResponse): void => { if (!settled) { settled = true; clearTimeout(graceTimer); task.resolve(r); } };
    const reject = (err: Error): void => { if (!settled) { settled = true; clearTimeout(graceTimer); task.reject(err); } };
    if (res instanceof Error) return reject(res); // an error reply, or the control connection closed
    if (res.code === 150 || res.code === 125) {
      if (started) return;
      started = true;
      // The data connection is watched from here on; the idle control connection is not.
      ftp.socket.setTimeout(0);
      socket.setTimeout(ftp.timeout);
      conn.ready.then(() => {
        socket.end(data, (err?: Error | null) => {
          if (err) return;
          sent = true;
          ftp.socket.setTimeout(ftp.timeout);
          if (completion) resolve(completion);
        });
      }, () => {}); // a failed handshake shows as the socket's 'error' above
      return;
    }
    if (res.code >= 200 && res.code < 300) {
      completion = res;
      if (sent) resolve(res);
      return;
    }
    if (res.code >= 300 && res.code < 400) ftp.closeWithError(new Error(`unexpected reply to STOR: ${res.message}`));
  });
}

/** EPSV (PASV where refused), always to the control connection's host, as basic-ftp does. */
async function openPassiveData(ftp: FtpContext): Promise<DataConnection> {
  const host = ftp.socket.remoteAddress;
  if (!host) throw new Error('control connection is closed');
  let port: number;
  try {
    const res = await ftp.request('EPSV');
    port = Number(/\(([!|])\1\1(\d+)\1\)/.exec(res.message)?.[2]);
  } catch (err) {
    if ((err as { code?: unknown }).code === undefined || (err as { code: number }).code < 500) throw err;
    const res = await ftp.request('PASV');
    const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(res.message);
    port = m ? Number(m[5]) * 256 + Number(m[6]) : NaN;
  }
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error('cannot read the data port from the passive-mode reply');
  const raw = await new Promise<Socket>((resolve, reject) => {
    const s = tcpConnect({ host, port, family: ftp.ipFamily });
    const tooSlow = (): void => { s.destroy(new Error(`Timeout opening data connection to ${host}:${port}`)); };
    s.setTimeout(ftp.timeout);
    s.once('timeout', tooSlow);
    s.once('error', reject);
    s.once('connect', () => {
      s.setTimeout(0);
      s.removeListener('timeout', tooSlow);
      s.removeListener('error', reject);
      resolve(s);
    });
  });
  if (!(ftp.socket instanceof TLSSocket)) return { socket: raw, ready: Promise.resolve() };
  // Servers expect the control connection's TLS session to be resumed (vsftpd's require_ssl_reuse).
  const tls = tlsConnect({ ...ftp.tlsOptions, socket: raw, session: ftp.tlsSessionStore ?? ftp.socket.getSession() });
  raw.on('error', () => {}); // reported through the TLS socket
  tls.on('session', (session: Buffer) => { ftp.tlsSessionStore = session; });
  const ready = new Promise<void>((resolve, reject) => {
    tls.once('secureConnect', resolve);
    tls.once('error', reject);
  });
  ready.catch(() => {});
  return { socket: tls, ready };
}
