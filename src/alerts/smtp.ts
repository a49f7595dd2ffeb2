// SMTP channel: one mail per alert through nodemailer — STARTTLS (required, the default),
// implicit TLS (port 465) or plain (loopback relays only), with optional AUTH. nodemailer is
// loaded on first use: a controller without mail channels never pays for it.

import type { SmtpChannelSpec } from '../catalog/index.ts';
import { parseDuration } from '../core/index.ts';

export interface Mail {
  readonly subject: string;
  readonly text: string;
}

/** One send attempt; throws when the server does not accept the mail. */
export async function sendMail(spec: SmtpChannelSpec, password: string | null, mail: Mail): Promise<void> {
  const { createTransport } = await import('nodemailer');
  const timeoutMs = parseDuration(spec.timeout) ?? 30_000;
  const transport = createTransport({
    host: spec.host,
    port: spec.port ?? (spec.security === 'tls' ? 465 : 587),
    secure: spec.security === 'tls',
    requireTLS: spec.security === 'starttls',
    ignoreTLS: spec.security === 'none',
    auth: spec.user ? { user: spec.user, pass: password ?? '' } : undefined,
    tls: { rejectUnauthorized: spec.tlsVerify },
    connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs,
  });
  try {
    await transport.sendMail({ from: spec.from, to: spec.to, subject: mail.subject, text: mail.text });
  } finally {
    transport.close();
  }
}
