// Who may do what: API tokens (the secret is in the answer to create, and nowhere after),
// console users (passwords write-only; disabling or removing a user ends their sessions), and
// the audit log. Admin only.

import { z } from 'zod';
import {
  MIN_PASSWORD_CHARS, createApiToken, createUser, listApiTokens, listAudit, listUsers, removeUser, revokeApiToken, setUserDisabled,
} from '../../catalog/index.ts';
import { VmbakError, parseDuration } from '../../core/index.ts';
import { SESSION_PREFIX } from '../auth.ts';
import type { ServerDeps } from '../deps.ts';
import { pageArray, pageOf, pageQueryFields } from '../paging.ts';
import { route } from '../routing.ts';
import { auditSchema, nameParams, resourceName, roleSchema, tokenSchema, userSchema } from '../schemas.ts';

const duration = z.string().refine((s) => (parseDuration(s) ?? 0) > 0, { error: 'give a duration such as 30d or 12h' });

/** Ends every login session of `user`. */
async function endSessions(deps: ServerDeps, user: string): Promise<number> {
  const { catalog } = deps.controller;
  const nowMs = catalog.clock.nowMs();
  const sessions = (await listApiTokens(catalog)).filter((t) => t.name.startsWith(SESSION_PREFIX) && t.createdBy === user
    && t.revokedMs === null && (t.expiresMs === null || t.expiresMs > nowMs));
  for (const session of sessions) await revokeApiToken(catalog, session.id);
  return sessions.length;
}

export const accessRoutes = [
  route({
    method: 'GET', url: '/tokens', access: 'admin', tags: ['access'], summary: 'API tokens (never their secrets)',
    query: z.strictObject({ ...pageQueryFields, sessions: z.stringbool().default(false).describe('also login sessions') }),
    response: pageOf(tokenSchema),
    async handler({ deps, query }) {
      const tokens = (await listApiTokens(deps.controller.catalog)).filter((t) => query.sessions || !t.name.startsWith(SESSION_PREFIX));
      return pageArray(tokens, (t) => t.name, query);
    },
  }),
  route({
    method: 'POST', url: '/tokens', access: 'admin', tags: ['access'], audit: 'token.create', status: 201,
    summary: 'Create an API token: its secret is in this answer only',
    body: z.strictObject({ name: resourceName, role: roleSchema, expiresIn: duration.optional().describe('such as 90d; none: never') }),
    response: z.object({ token: z.string().describe('shown once'), record: tokenSchema }),
    async handler({ deps, body, principal }) {
      const { catalog } = deps.controller;
      const expiresMs = body.expiresIn === undefined ? null : catalog.clock.nowMs() + parseDuration(body.expiresIn)!;
      return createApiToken(catalog, { name: body.name, role: body.role, expiresMs, createdBy: principal!.actor });
    },
  }),
  route({
    method: 'DELETE', url: '/tokens/:id', access: 'admin', tags: ['access'], audit: 'token.revoke',
    summary: 'Revoke a token (or a login session) at once', params: z.strictObject({ id: z.string().min(1) }),
    async handler({ deps, params }) {
      if (!await revokeApiToken(deps.controller.catalog, params.id)) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'active token', name: params.id });
    },
  }),
  route({
    method: 'GET', url: '/users', access: 'admin', tags: ['access'], summary: 'Console users',
    query: z.strictObject(pageQueryFields), response: pageOf(userSchema),
    async handler({ deps, query }) { return pageArray(await listUsers(deps.controller.catalog), (u) => u.name, query); },
  }),
  route({
    method: 'POST', url: '/users', access: 'admin', tags: ['access'], audit: 'user.create', status: 201,
    summary: 'Create a console user',
    body: z.strictObject({ name: resourceName, role: roleSchema, password: z.string().min(MIN_PASSWORD_CHARS).max(1024).describe('write-only') }),
    response: userSchema,
    async handler({ deps, body }) { return createUser(deps.controller.catalog, body.name, body.role, body.password); },
  }),
  ...(['disable', 'enable'] as const).map((action) => route({
    method: 'POST', url: `/users/:name/${action}`, access: 'admin', tags: ['access'], audit: `user.${action}`,
    summary: action === 'disable' ? 'Disable a user and end their sessions' : 'Enable a disabled user', params: nameParams,
    async handler({ deps, params, note }) {
      if (!await setUserDisabled(deps.controller.catalog, params.name, action === 'disable')) {
        throw new VmbakError('CATALOG_NOT_FOUND', { what: 'user', name: params.name });
      }
      if (action === 'disable') note({ sessionsEnded: await endSessions(deps, params.name) });
    },
  })),
  route({
    method: 'DELETE', url: '/users/:name', access: 'admin', tags: ['access'], audit: 'user.remove',
    summary: 'Remove a user and end their sessions', params: nameParams,
    async handler({ deps, params, note }) {
      if (!await removeUser(deps.controller.catalog, params.name)) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'user', name: params.name });
      note({ sessionsEnded: await endSessions(deps, params.name) });
    },
  }),
  route({
    method: 'GET', url: '/audit', access: 'admin', tags: ['access'], summary: 'The audit log, newest first: who changed or ran what',
    query: z.strictObject(pageQueryFields), response: pageOf(auditSchema),
    async handler({ deps, query }) { return listAudit(deps.controller.catalog, query); },
  }),
];
