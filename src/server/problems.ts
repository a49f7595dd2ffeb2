// Every error the API answers is an RFC 9457 problem (application/problem+json): `type`
// (urn:vmbak:error:<CODE>), `title` (the HTTP status text), `status`, `detail` (the one-line
// message the CLI would print), `code` (the error registry's code, whose httpStatus column is
// the status) and `instance` (the request path). A request that fails its schema adds `field`,
// naming where (body.schedule, query.limit). Internal failures say only where to look: the
// log has the error under the request id.

import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { VmbakError, errorRegistry, type ErrorCode } from '../core/index.ts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: ErrorCode;
  readonly instance: string;
  readonly field?: string;
}

export const problemJsonSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string', description: 'urn:vmbak:error:<code>' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', enum: Object.keys(errorRegistry), description: 'docs/errors.md' },
    instance: { type: 'string' },
    field: { type: 'string', description: 'the request field that failed its schema (body.name, query.limit)' },
  },
} as const;

/** A request part failed its zod schema; the problem names the field. */
export class RequestValidationError extends Error {
  readonly part: string;
  readonly issues: readonly z.core.$ZodIssue[];
  constructor(part: string, issues: readonly z.core.$ZodIssue[]) {
    super(`invalid ${part}`);
    this.part = part;
    this.issues = issues;
  }
}

/** Where in a request an issue is, as a reader would write it: body.retention.keepDaily, query.limit, body.vms[0]. */
export function fieldOf(part: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : `${acc}.${String(key)}`), part);
}

export function problemOf(code: ErrorCode, detail: string, instance: string, field?: string): Problem {
  const status = errorRegistry[code].httpStatus;
  return { type: `urn:vmbak:error:${code}`, title: STATUS_CODES[status] ?? 'Error', status, detail, code, instance, ...(field ? { field } : {}) };
}

function invalid(part: string, issues: readonly z.core.$ZodIssue[], instance: string): Problem {
  const issue = issues[0]!;
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const field = fieldOf(part, keys.length > 0 ? [...issue.path, keys[0]!] : issue.path);
  const detail = keys.length > 0 ? `unknown field (${keys.join(', ')})` : issue.message;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  return problemOf('INVALID_REQUEST', new VmbakError('INVALID_REQUEST', { field, detail: detail + more }).message, instance, field);
}

/** The problem for anything a handler or hook threw, and whether it is the server's fault. */
export function problemFromError(err: unknown, instance: string): { problem: Problem; internal: boolean } {
  if (err instanceof RequestValidationError) return { problem: invalid(err.part, err.issues, instance), internal: false };
  if (err instanceof z.ZodError) return { problem: invalid('body', err.issues, instance), internal: false };
  if (err instanceof VmbakError) {
    const field = err.code === 'INVALID_REQUEST' ? String(err.params.field) : undefined;
    return { problem: problemOf(err.code, err.message, instance, field), internal: err.httpStatus >= 500 };
  }
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // fastify's own refusals: malformed JSON, wrong content type, a body too large
    const detail = new VmbakError('INVALID_REQUEST', { field: 'body', detail: (err as Error).message }).message;
    return { problem: problemOf('INVALID_REQUEST', detail, instance, 'body'), internal: false };
  }
  return { problem: problemOf('INTERNAL', 'internal error: the controller log has it under this request\'s id', instance), internal: true };
}

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  if (problem.code === 'LOGIN_RATE_LIMITED') reply.header('retry-after', /in (\d+) s/.exec(problem.detail)?.[1] ?? '60');
  if (problem.status === 401) reply.header('www-authenticate', 'Bearer realm="vmbak"');
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { problem, internal } = problemFromError(err, request.url.split('?')[0]!);
  if (internal) request.log.error({ err }, `${request.method} ${request.routeOptions.url ?? request.url} failed`);
  else request.log.info({ code: problem.code, status: problem.status, field: problem.field }, 'request refused');
  return sendProblem(reply, problem);
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?')[0]!;
  return sendProblem(reply, problemOf('NO_ROUTE', new VmbakError('NO_ROUTE', { method: request.method, path }).message, path));
}
