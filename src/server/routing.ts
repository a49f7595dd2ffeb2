// How a route is declared: one object with its access level, zod schemas for params, query,
// body and response, and a handler. The zod schemas are the one source of truth: requests are
// validated by them (a custom fastify validator compiler, so refinements such as a cron check
// run too), the OpenAPI document is generated from their JSON Schema (z.toJSONSchema), and
// each response is parsed through its schema before it is sent — so a field the schema does
// not name (a credential, say) is stripped, and a handler that drifts from the document fails
// loudly instead of publishing something the document does not describe.

import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { z } from 'zod';
import { VmbakError } from '../core/index.ts';
import { principalOf, type Access, type Principal, type RouteConfig } from './principal.ts';
import type { ServerDeps } from './deps.ts';
import { PROBLEM_CONTENT_TYPE, RequestValidationError, fieldOf, problemJsonSchema } from './problems.ts';

export const API_PREFIX = '/api/v1';

type Schema = z.ZodType;
type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteContext<P, Q, B> {
  readonly params: Out<P>;
  readonly query: Out<Q>;
  readonly body: Out<B>;
  /** Who calls; null only on public routes. */
  readonly principal: Principal | null;
  readonly deps: ServerDeps;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
  /** Adds to the audit entry of this request (a new job's id, say). Never pass secrets. */
  note(detail: Record<string, unknown>): void;
}

export interface RouteSpec<P = undefined, Q = undefined, B = undefined, R = undefined> {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Below /api/v1, with fastify's :param syntax. */
  readonly url: string;
  readonly access: Access;
  readonly summary: string;
  readonly tags: readonly string[];
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  /** The success response's schema; omitted: 204 No Content. */
  readonly response?: R;
  /** Success status (default 200, or 204 without a response schema). */
  readonly status?: number;
  /** A Server-Sent Events stream: the handler writes to the reply itself. */
  readonly stream?: boolean;
  /** A file download (any content type): the handler sends the reply itself. */
  readonly download?: boolean;
  /** The audit action recorded when a mutating call succeeds. Every POST, PUT and DELETE names one, or `controller`. */
  readonly audit?: string;
  /**
   * `controller`: the controller's own audit entry covers this route (ControllerApi's job
   * actions record their actor). `job`: an agent's report on the work it runs — recorded with
   * the job (its log, results, backups), not in the audit log of what people changed.
   */
  readonly auditedBy?: 'controller' | 'job';
  handler(ctx: RouteContext<P, Q, B>): Promise<R extends z.ZodType ? z.input<R> : void>;
}

// Route specs of different schemas go into one list; each is checked where it is written.
export type AnyRoute = RouteSpec<any, any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Declares a route; the identity, so TypeScript infers the handler's types from the schemas. */
export function route<P extends Schema | undefined = undefined, Q extends Schema | undefined = undefined,
  B extends Schema | undefined = undefined, R extends Schema | undefined = undefined>(spec: RouteSpec<P, Q, B, R>): RouteSpec<P, Q, B, R> {
  return spec;
}

const toJsonSchema = (schema: Schema, io: 'input' | 'output'): Record<string, unknown> => {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
};

const PART_NAMES: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

/** Registers the routes and the compilers that make their zod schemas validate requests. */
export function registerRoutes(app: FastifyInstance, routes: readonly AnyRoute[], deps: ServerDeps): void {
  const validators = new Map<string, Schema>();
  app.setValidatorCompiler(({ method, url, httpPart }) => {
    const schema = validators.get(`${method} ${url} ${httpPart}`);
    if (!schema) throw new Error(`no zod schema for ${method} ${url} ${httpPart}`);
    return (data: unknown) => {
      const result = schema.safeParse(data ?? undefined);
      return result.success ? { value: result.data } : { error: new RequestValidationError(PART_NAMES[httpPart ?? ''] ?? String(httpPart), result.error.issues) };
    };
  });
  // Responses are already parsed through their schema by the handler wrapper: plain JSON from here.
  app.setSerializerCompiler(() => (data: unknown) => JSON.stringify(data));

  for (const spec of routes) {
    if (spec.method !== 'GET' && !spec.audit && !spec.auditedBy) throw new Error(`${spec.method} ${spec.url} names no audit action`);
    const url = `${API_PREFIX}${spec.url}`;
    const schema: Record<string, unknown> = {
      summary: spec.summary, tags: [...spec.tags], 'x-vmbak-access': spec.access,
      security: spec.access === 'public' ? [] : [{ bearer: [] }],
      response: responsesOf(spec),
    };
    for (const [part, zodSchema] of [['params', spec.params], ['querystring', spec.query], ['body', spec.body]] as const) {
      if (!zodSchema) continue;
      schema[part] = toJsonSchema(zodSchema, 'input');
      validators.set(`${spec.method} ${url} ${part}`, zodSchema);
    }
    const options: RouteOptions = {
      method: spec.method, url, schema,
      config: { access: spec.access, audit: spec.audit ?? null } satisfies RouteConfig as RouteOptions['config'],
      handler: (request, reply) => runHandler(spec, deps, request, reply),
    };
    app.route(options);
  }
}

function responsesOf(spec: AnyRoute): Record<string, unknown> {
  const problem = { description: 'A problem (RFC 9457)', content: { [PROBLEM_CONTENT_TYPE]: { schema: problemJsonSchema } } };
  if (spec.download) {
    return { 200: { description: 'The file or archive (Content-Disposition names it)', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }, '4xx': problem, '5xx': problem };
  }
  if (spec.stream) {
    return { 200: { description: 'Server-Sent Events (text/event-stream)', content: { 'text/event-stream': { schema: { type: 'string' } } } }, '4xx': problem, '5xx': problem };
  }
  const ok = spec.response
    ? { [spec.status ?? 200]: { description: 'Success', content: { 'application/json': { schema: toJsonSchema(spec.response as Schema, 'output') } } } }
    : { [spec.status ?? 204]: { description: 'Done', type: 'null' } };
  return { ...ok, '4xx': problem, '5xx': problem };
}

const AUDIT_NOTES = new WeakMap<FastifyRequest, Record<string, unknown>>();

export const auditNoteOf = (request: FastifyRequest): Record<string, unknown> => AUDIT_NOTES.get(request) ?? {};

async function runHandler(spec: AnyRoute, deps: ServerDeps, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const ctx = {
    params: request.params, query: request.query, body: request.body, principal: principalOf(request), deps, request, reply,
    note: (detail: Record<string, unknown>) => { AUDIT_NOTES.set(request, { ...AUDIT_NOTES.get(request), ...detail }); },
  };
  const result = await spec.handler(ctx as Parameters<AnyRoute['handler']>[0]);
  if (spec.stream || spec.download) return reply;
  if (!spec.response) return reply.code(spec.status ?? 204).send();
  const parsed = (spec.response as Schema).safeParse(result);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new VmbakError('INTERNAL', { detail: `${spec.method} ${spec.url} answered off its schema at ${fieldOf('response', issue.path)}: ${issue.message}` });
  }
  return reply.code(spec.status ?? 200).send(parsed.data);
}
