// Every successful change and every job action is written to the audit log — who (the token
// or user), what (the route's declared action), on what (the path's names, or the new item's),
// when — before the answer is sent, so a caller never sees success for a change that left no
// audit entry. The request body goes along with anything secret replaced by "[redacted]".

import type { FastifyReply, FastifyRequest } from 'fastify';
import { recordAudit } from '../catalog/index.ts';
import type { ServerDeps } from './deps.ts';
import { principalOf, routeConfigOf } from './principal.ts';
import { auditNoteOf } from './routing.ts';

const SECRET_KEY = /pass|secret|token|credential|^env$/i;

export function auditHook(deps: ServerDeps): (request: FastifyRequest, reply: FastifyReply, payload: unknown) => Promise<unknown> {
  return async (request, reply, payload) => {
    const action = routeConfigOf(request)?.audit;
    if (!action || reply.statusCode >= 400) return payload;
    const { actor, target, ...note } = auditNoteOf(request);
    const params = Object.values((request.params ?? {}) as Record<string, string>);
    const body = redact(request.body);
    const bodyName = typeof (body as { name?: unknown } | null)?.name === 'string' ? (body as { name: string }).name : '';
    await recordAudit(deps.controller.catalog,
      typeof actor === 'string' ? actor : principalOf(request)?.actor ?? 'anonymous', action,
      typeof target === 'string' ? target : params.length > 0 ? params.join('/') : bodyName,
      { ...(body === undefined || body === null ? {} : { request: body }), ...note });
    return payload;
  };
}

/** A copy of `value` with every field whose name suggests a secret replaced. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? '[redacted]' : redact(v)]));
}
