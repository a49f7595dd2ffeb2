// The web console's static files (web/, built into dist/web by `npm run build`), served at
// `/` beside the API. They are public like the login route: the console holds no data until
// it has a session token. Any other GET outside /api that accepts HTML gets index.html, so a
// reload on /vms/web01 opens the single-page app at that page; an unknown /api path stays a
// NO_ROUTE problem. Hashed files under /assets never change and are cached for a year;
// index.html is revalidated on every load so an upgrade reaches the browser at once. The build
// writes .br and .gz copies of each file; a browser that accepts one gets it.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';

/** The console loads nothing from elsewhere (works offline); Mantine sets CSS variables in a style element. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
  "connect-src 'self'", "font-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'",
].join('; ');

export const isConsoleBuilt = (dir: string): boolean => existsSync(join(dir, 'index.html'));

/** Serves `dir` at `/` (call only when isConsoleBuilt). */
export function registerConsole(app: FastifyInstance, dir: string): void {
  app.register(fastifyStatic, {
    root: dir, prefix: '/', wildcard: true, index: ['index.html'], schemaHide: true, serveDotFiles: false, preCompressed: true,
    cacheControl: false,
    setHeaders: (reply, path) => {
      const hashed = path.startsWith(join(dir, 'assets'));
      reply.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
      reply.header('x-content-type-options', 'nosniff');
      if (path.endsWith('.html')) setPageHeaders(reply);
    },
  });
}

function setPageHeaders(reply: FastifyReply): void {
  reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
  reply.header('referrer-policy', 'no-referrer');
  reply.header('x-frame-options', 'DENY');
}

/** A browser asking for one of the console's own pages (not the API, not a file). */
export function wantsConsolePage(request: FastifyRequest): boolean {
  const path = request.url.split('?')[0]!;
  return (request.method === 'GET' || request.method === 'HEAD') && !path.startsWith('/api/') && path !== '/api'
    && !/\.[a-z0-9]+$/i.test(path) && (request.headers.accept ?? '').includes('text/html');
}

export function sendConsolePage(reply: FastifyReply): FastifyReply {
  setPageHeaders(reply);
  return reply.header('cache-control', 'no-cache').sendFile('index.html');
}
