// The REST API under /api/v1 (fastify, OpenAPI 3.1 from the route schemas, bearer tokens and
// roles, problem+json errors, Server-Sent Events for live jobs): docs/api.md. It holds no
// decisions of its own — each route reads or writes the catalog or calls the controller.
export { createApiServer, REDACTED_LOG_PATHS, API_PREFIX, type ApiServerOptions, type ApiLoggerOptions } from './api-server.ts';
export { isConsoleBuilt } from './console.ts';
export { listenApiServer, plaintextWarning, isLoopbackHost } from './listen.ts';
export { DEFAULT_LOGIN_LIMITS, type LoginLimits } from './login-limiter.ts';
export { mayAccess, type Access, type Principal } from './principal.ts';
export { PROBLEM_CONTENT_TYPE, type Problem } from './problems.ts';
