// The console's one way to the controller: the typed REST client, the event-stream reader,
// the session and the API's shapes. Features import this file only (test/architecture.test.ts).

export { api, call } from './client.ts';
export { ApiError, asApiError } from './problem.ts';
export { followEvents, type StreamEvent } from './events.ts';
export { currentSession, endSession, onSessionChange, sessionEndReason, startSession, type Session } from './session.ts';
export { mayUse, type RouteKey } from './access.ts';
export * from './types.ts';
