// The current login session as React state, following logins, logouts and ended sessions.

import { useSyncExternalStore } from 'react';
import { currentSession, onSessionChange, type Session } from '../api/index.ts';

export function useSession(): Session | null {
  return useSyncExternalStore(onSessionChange, currentSession);
}
