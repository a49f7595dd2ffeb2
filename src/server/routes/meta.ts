// Health, the OpenAPI document, login, logout and "who am I": the only public routes besides
// the console's static files are the first three. Login trades a user's password for a session
// token (an API token that expires), counting failures per address and per name
// (login-limiter.ts); logout revokes the token it is sent with, so a session the console
// leaves is over on the server too, not only forgotten by the browser.

import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { authenticateUser, createApiToken, deleteExpiredApiTokens, revokeApiToken } from '../../catalog/index.ts';
import { VmbakError } from '../../core/index.ts';
import { SESSION_PREFIX } from '../auth.ts';
import { route } from '../routing.ts';
import { roleSchema } from '../schemas.ts';

export const metaRoutes = [
  route({
    method: 'GET', url: '/health', access: 'public', tags: ['meta'],
    summary: 'Whether the controller is ready (503 until the start-up sweep is done)',
    response: z.object({ status: z.literal('ok') }),
    async handler({ deps }) {
      if (!deps.controller.isReady()) throw new VmbakError('NOT_READY', { detail: 'it is still cleaning up after its previous run' });
      return { status: 'ok' as const };
    },
  }),
  route({
    method: 'GET', url: '/openapi.json', access: 'public', tags: ['meta'],
    summary: 'This API\'s OpenAPI 3.1 document, generated from the route schemas',
    response: z.record(z.string(), z.unknown()),
    async handler({ request }) {
      return (request.server as unknown as { swagger(): Record<string, unknown> }).swagger();
    },
  }),
  route({
    method: 'POST', url: '/auth/login', access: 'public', tags: ['auth'], audit: 'auth.login',
    summary: 'Log in with a user\'s password: a session token (429 after 5 failures a minute per address or name)',
    body: z.strictObject({ name: z.string().min(1).max(128), password: z.string().min(1).max(1024) }),
    response: z.object({ token: z.string(), expiresMs: z.number(), user: z.object({ name: z.string(), role: roleSchema }) }),
    async handler({ body, deps, request, note }) {
      const { catalog } = deps.controller;
      const ipKey = `ip:${request.ip}`;
      const userKey = `user:${body.name}`;
      const ipWait = deps.limiter.retryAfterSeconds([ipKey]);
      const userWait = deps.limiter.retryAfterSeconds([userKey]);
      if (ipWait > 0 || userWait > 0) {
        throw new VmbakError('LOGIN_RATE_LIMITED', { who: ipWait >= userWait ? `address ${request.ip}` : `user ${body.name}`, seconds: Math.max(ipWait, userWait) });
      }
      const user = await authenticateUser(catalog, body.name, body.password);
      if (!user) {
        deps.limiter.recordFailure([ipKey, userKey]);
        request.log.info({ user: body.name, ip: request.ip }, 'login failed');
        throw new VmbakError('LOGIN_FAILED');
      }
      deps.limiter.clear(userKey);
      const nowMs = catalog.clock.nowMs();
      await deleteExpiredApiTokens(catalog, nowMs);
      const expiresMs = nowMs + deps.sessionTtlMs;
      const { token } = await createApiToken(catalog, {
        name: `${SESSION_PREFIX}${user.name}:${randomBytes(6).toString('hex')}`, role: user.role, expiresMs, createdBy: user.name,
      });
      note({ actor: `user:${user.name}`, target: user.name });
      return { token, expiresMs, user: { name: user.name, role: user.role } };
    },
  }),
  route({
    method: 'POST', url: '/auth/logout', access: 'viewer', tags: ['auth'], audit: 'auth.logout',
    summary: 'End the session (or revoke the API token) this request is sent with',
    async handler({ deps, principal, note }) {
      await revokeApiToken(deps.controller.catalog, principal!.tokenId);
      note({ target: principal!.user ?? principal!.actor });
    },
  }),
  route({
    method: 'GET', url: '/auth/me', access: 'viewer', tags: ['auth'],
    summary: 'Who the token belongs to',
    response: z.object({ actor: z.string(), role: roleSchema, user: z.string().nullable() }),
    async handler({ principal }) {
      return { actor: principal!.actor, role: principal!.role, user: principal!.user };
    },
  }),
];
