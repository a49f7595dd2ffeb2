// The REST API: fastify with the OpenAPI 3.1 document generated from the routes' zod schemas
// (@fastify/swagger), JSON-line logs (pino, with credentials redacted), bearer-token
// authentication and role checks before anything else runs, RFC 9457 problems for every
// error, and an audit entry for every change. The API holds no decisions: each route is a
// catalog read or write, or one call to the controller.

import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { ControllerApi } from '../controller/index.ts';
import { auditHook } from './audit-hook.ts';
import { isConsoleBuilt, registerConsole, sendConsolePage, wantsConsolePage } from './console.ts';
import { authenticationHook } from './auth.ts';
import type { ServerDeps } from './deps.ts';
import { DEFAULT_LOGIN_LIMITS, LoginLimiter, type LoginLimits } from './login-limiter.ts';
import { errorHandler, notFoundHandler } from './problems.ts';
import { API_PREFIX, registerRoutes } from './routing.ts';
import { ALL_ROUTES } from './routes/index.ts';
import type { EventStream } from './sse.ts';

export interface ApiLoggerOptions {
  /** pino level (default info). */
  readonly level?: string;
  /** Where JSON lines go (default stdout). */
  readonly stream?: NodeJS.WritableStream;
}

export interface ApiServerOptions {
  readonly controller: ControllerApi;
  /** false: no logs at all (tests that do not read them). */
  readonly logger?: ApiLoggerOptions | false;
  /** PEM certificate chain and key: the API is served over HTTPS. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Lifetime of a login session's token (default 12 h). */
  readonly sessionTtlMs?: number;
  readonly loginLimits?: LoginLimits;
  /** The built web console (dist/web) to serve at `/`; absent or not built: the API alone. */
  readonly consoleDir?: string;
}

/** Paths pino replaces with "[redacted]" wherever a log line would carry them. */
export const REDACTED_LOG_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'authorization',
  '*.password', '*.passphrase', '*.secret', '*.token', '*.credentials', '*.env',
  'body.password', 'body.passphrase', 'body.secret', 'body.credentials',
];

export function createApiServer(opts: ApiServerOptions): FastifyInstance {
  const logger = opts.logger === false ? false : {
    level: opts.logger?.level ?? 'info',
    ...(opts.logger?.stream ? { stream: opts.logger.stream } : {}),
    redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
  };
  // close() ends event streams (preClose below) and then every connection: a client's spare
  // keep-alive socket that never sent a request would otherwise hold close() for seconds.
  const app = Fastify({
    logger, exposeHeadRoutes: false, trustProxy: false, return503OnClosing: true, forceCloseConnections: true,
    ...(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key } } : {}),
  }) as unknown as FastifyInstance;
  const streams = new Set<EventStream>();
  const deps: ServerDeps = {
    controller: opts.controller, streams, sessionTtlMs: opts.sessionTtlMs ?? 12 * 3_600_000,
    limiter: new LoginLimiter(opts.controller.catalog.clock, opts.loginLimits ?? DEFAULT_LOGIN_LIMITS),
  };
  app.setErrorHandler(errorHandler);
  const consoleDir = opts.consoleDir !== undefined && isConsoleBuilt(opts.consoleDir) ? opts.consoleDir : null;
  app.setNotFoundHandler((request, reply) => (consoleDir && wantsConsolePage(request) ? sendConsolePage(reply) : notFoundHandler(request, reply)));
  app.addHook('onRequest', authenticationHook(deps));
  app.addHook('onSend', auditHook(deps));
  // Open event streams would keep close() waiting forever.
  app.addHook('preClose', async () => { for (const stream of [...streams]) stream.end(); });
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'vmbak controller API', version: '1', description: 'docs/api.md: authentication, roles, problems, paging, event streams' },
      servers: [{ url: '/' }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an API token or a login session token' } } },
      security: [{ bearer: [] }],
    },
  });
  app.register(async (api) => { registerRoutes(api, ALL_ROUTES, deps); });
  if (consoleDir) registerConsole(app, consoleDir);
  return app;
}

export { API_PREFIX };
