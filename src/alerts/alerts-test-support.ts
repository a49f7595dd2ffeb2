// Test helpers for alerts: a real SMTP server (npm smtp-server) and a real HTTP receiver on
// loopback that record what reaches them, plus a free port with nothing listening (a server
// that is down).

import { execFileSync } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  readonly from: string;
  readonly to: string[];
  readonly user: string | null;
  readonly secured: boolean;
  readonly raw: string;
}

export interface SmtpOptions {
  /** Offer STARTTLS with a self-signed certificate made in `certDir`. */
  readonly starttlsCertDir?: string;
  /** Speak TLS from the first byte (port 465 style) with a self-signed certificate made in `certDir`. */
  readonly implicitTlsCertDir?: string;
  /** Require AUTH with this user and password. */
  readonly auth?: { user: string; password: string };
}

export async function startSmtpServer(t: TestContext, opts: SmtpOptions = {}): Promise<{ port: number; mails: ReceivedMail[] }> {
  const mails: ReceivedMail[] = [];
  const certDir = opts.starttlsCertDir ?? opts.implicitTlsCertDir;
  const tls = certDir ? selfSignedCert(certDir) : {};
  const server = new SMTPServer({
    logger: false,
    ...tls,
    secure: opts.implicitTlsCertDir !== undefined,
    disabledCommands: opts.starttlsCertDir ? [] : ['STARTTLS'],
    authOptional: !opts.auth,
    allowInsecureAuth: false,
    onAuth(auth, _session, callback) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.password) callback(null, { user: auth.username });
      else callback(new Error('invalid user or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address),
          user: (session.user as string | undefined) ?? null, secured: session.secure, raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as AddressInfo).port, mails };
}

function selfSignedCert(dir: string): { key: Buffer; cert: Buffer } {
  const key = join(dir, 'smtp.key');
  const cert = join(dir, 'smtp.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

export interface ReceivedRequest {
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

/** An HTTP receiver; `answer` decides each response (status code), or returns null to never answer. */
export async function startReceiver(t: TestContext, answer: (n: number, req: ReceivedRequest) => number | null = () => 204): Promise<{ url: string; requests: ReceivedRequest[] }> {
  const requests: ReceivedRequest[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received = { headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(received);
      const status = answer(requests.length, received);
      if (status === null) hanging.push(res);
      else res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/vmbak`, requests };
}

/** A loopback port nothing listens on. */
export async function deadPort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
