// Who a request is and what a route needs. Every route declares an access level; a role may
// use it when the level admits the role: admin ⊇ operator ⊇ viewer for people, while the
// agent role opens only the agent routes (and those open to no person: the credentials an
// agent fetches are the one place a secret leaves the controller, never for people).

import type { FastifyRequest } from 'fastify';
import type { Role } from '../catalog/index.ts';

/** public: no token; viewer: read; operator: run and steer jobs; admin: settings, tokens, users; agent: agent routes only. */
export type Access = 'public' | 'viewer' | 'operator' | 'admin' | 'agent';

export interface Principal {
  readonly role: Role;
  /** For the audit log: "user:alice" for a login session, "token:ci" for an API token. */
  readonly actor: string;
  readonly tokenId: string;
  /** The user behind a login session; null for an API token. */
  readonly user: string | null;
}

const PEOPLE_RANK: Record<Role, number> = { agent: 0, viewer: 1, operator: 2, admin: 3 };

export function mayAccess(role: Role, access: Access): boolean {
  if (access === 'public') return true;
  if (access === 'agent') return role === 'agent';
  return PEOPLE_RANK[role] >= PEOPLE_RANK[access];
}

/** Per-route options kept in fastify's routeOptions.config, read by the auth and audit hooks. */
export interface RouteConfig {
  readonly access: Access;
  readonly audit: string | null;
}

/** The route's config, or null for fastify's not-found route. */
export function routeConfigOf(request: FastifyRequest): RouteConfig | null {
  const config = request.routeOptions.config as Partial<RouteConfig>;
  return config.access === undefined ? null : { access: config.access, audit: config.audit ?? null };
}

const PRINCIPALS = new WeakMap<FastifyRequest, Principal>();

export const principalOf = (request: FastifyRequest): Principal | null => PRINCIPALS.get(request) ?? null;

export const setPrincipal = (request: FastifyRequest, principal: Principal): void => { PRINCIPALS.set(request, principal); };
