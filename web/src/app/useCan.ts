// Whether the logged-in user's role may use a route — for showing or hiding its button.

import { mayUse, type RouteKey } from '../api/index.ts';
import { useSession } from './useSession.ts';

export function useCan(): (route: RouteKey) => boolean {
  const role = useSession()?.user.role;
  return (route) => mayUse(role, route);
}
