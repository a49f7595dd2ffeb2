// What route handlers share: the controller (catalog, secrets, notifier and actions), the
// login limiter, and the open event streams (ended when the server closes).

import type { ControllerApi } from '../controller/index.ts';
import type { LoginLimiter } from './login-limiter.ts';
import type { EventStream } from './sse.ts';

export interface ServerDeps {
  readonly controller: ControllerApi;
  readonly limiter: LoginLimiter;
  /** How long a login session's token lives. */
  readonly sessionTtlMs: number;
  readonly streams: Set<EventStream>;
}
