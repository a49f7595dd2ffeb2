// Where the API listens. Tokens and passwords travel in its requests, so anything but
// loopback without TLS gets a warning in the log (the serve command's --listen and
// --tls-cert/--tls-key come here).

import type { FastifyInstance } from 'fastify';
import { isLoopbackHost } from '../core/index.ts';

export { isLoopbackHost };

/** The warning to log when the API would listen beyond loopback in clear text, else null. */
export function plaintextWarning(host: string, tls: boolean): string | null {
  if (tls || isLoopbackHost(host)) return null;
  return `the API listens on ${host} without TLS: tokens and passwords cross the network in clear text; give --tls-cert and --tls-key, or listen on 127.0.0.1 behind a TLS proxy`;
}

/** Listens on host:port (port 0: any free one), warning first when that is beyond loopback without TLS; returns the base URL. */
export async function listenApiServer(app: FastifyInstance, opts: { host: string; port: number; tls: boolean }): Promise<string> {
  const warning = plaintextWarning(opts.host, opts.tls);
  if (warning) app.log.warn(warning);
  await app.listen({ host: opts.host, port: opts.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const host = opts.host.includes(':') && !opts.host.startsWith('[') ? `[${opts.host}]` : opts.host;
  return `${opts.tls ? 'https' : 'http'}://${host}:${port}`;
}
