// Whether a role may use a route, from the access levels the OpenAPI document declares
// (x-vmbak-access, generated into routeAccess): the console shows only what the role can do.
// The server decides; this only hides buttons that would answer 403.

import { routeAccess } from './schema.gen.ts';
import type { Role } from './types.ts';

export type RouteKey = keyof typeof routeAccess;

const RANK: Record<string, number> = { viewer: 1, operator: 2, admin: 3 };

export function mayUse(role: Role | undefined, route: RouteKey): boolean {
  if (role === undefined) return false;
  const needs = routeAccess[route] as string;
  if (needs === 'public') return true;
  if (needs === 'agent') return role === 'agent';
  return (RANK[role] ?? 0) >= (RANK[needs] ?? Infinity);
}
