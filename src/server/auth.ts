// Authentication runs in an onRequest hook — before the body is read or validated — so a
// request without a valid token gets 401 and one whose role may not use the route gets 403,
// never a 400 that would tell an anonymous caller about the route's schema. Tokens are
// looked up in the catalog on every request (authenticateToken), so a token made by
// `vmbak token create` in another process works at once and a revoked one stops at once.

import type { FastifyRequest } from 'fastify';
import { authenticateToken, type ApiTokenRecord } from '../catalog/index.ts';
import { VmbakError } from '../core/index.ts';
import type { ServerDeps } from './deps.ts';
import { mayAccess, routeConfigOf, setPrincipal, type Access, type Principal } from './principal.ts';

/** Login sessions are API tokens named "session:<user>:<random>", made by POST /auth/login. */
export const SESSION_PREFIX = 'session:';

const NEEDS: Record<Access, string> = {
  public: 'nothing', viewer: 'viewer, operator or admin', operator: 'operator or admin', admin: 'admin', agent: 'agent',
};

export function authenticationHook(deps: ServerDeps): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    const config = routeConfigOf(request);
    if (!config || config.access === 'public') return; // unknown routes answer 404 without a token
    const token = bearerToken(request.headers.authorization);
    const record = await authenticateToken(deps.controller.catalog, token);
    if (!record) throw new VmbakError('AUTH_REQUIRED', { detail: 'the token is unknown, revoked or expired' });
    const principal = principalFrom(record);
    setPrincipal(request, principal);
    if (!mayAccess(principal.role, config.access)) {
      throw new VmbakError('ACCESS_DENIED', { role: principal.role, method: request.method, path: request.routeOptions.url ?? request.url, needs: NEEDS[config.access] });
    }
  };
}

function bearerToken(header: string | undefined): string {
  if (header === undefined) throw new VmbakError('AUTH_REQUIRED', { detail: 'send the header "Authorization: Bearer <token>"' });
  const m = /^Bearer +(\S+)$/i.exec(header.trim());
  if (!m) throw new VmbakError('AUTH_REQUIRED', { detail: 'the Authorization header is not "Bearer <token>"' });
  return m[1]!;
}

function principalFrom(record: ApiTokenRecord): Principal {
  const session = record.name.startsWith(SESSION_PREFIX) && record.createdBy !== null;
  return {
    role: record.role, tokenId: record.id, user: session ? record.createdBy : null,
    actor: session ? `user:${record.createdBy}` : `token:${record.name}`,
  };
}
