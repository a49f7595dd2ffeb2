// The login session: the token the login route handed out, who it belongs to and when it
// expires. Kept in sessionStorage, so a reload keeps the user logged in and closing the tab
// ends it; listeners hear when it starts or ends (a 401 anywhere ends it).

import type { LoginAnswer } from './types.ts';

export type Session = LoginAnswer;

const KEY = 'vmbak.session';
const listeners = new Set<() => void>();
let current: Session | null = load();
let endReason: string | null = null;

function load(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
    return s && s.expiresMs > Date.now() ? s : null;
  } catch {
    return null;
  }
}

export const currentSession = (): Session | null => current;

/** Why the last session ended, when it was not the user's choice (shown on the login page). */
export const sessionEndReason = (): string | null => endReason;

export function startSession(session: Session): void {
  current = session;
  endReason = null;
  sessionStorage.setItem(KEY, JSON.stringify(session));
  listeners.forEach((fn) => fn());
}

export function endSession(reason: string | null = null): void {
  if (current === null) return;
  current = null;
  endReason = reason;
  sessionStorage.removeItem(KEY);
  listeners.forEach((fn) => fn());
}

export function onSessionChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => { listeners.delete(fn); };
}
