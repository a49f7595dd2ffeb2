// Test helpers for the API: a real catalog file and secrets key in a temporary data dir, a
// small ControllerApi over them (submitting a job creates the catalog job and tells
// subscribers; its job actions are audited with their actor, as ControllerApi asks; tests play
// the agent with startJob/finishJob/logLine), the API listening on a
// real loopback socket, a token per role, and the server's log lines captured.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import { Cron } from 'croner';
import { AlertNotifier } from '../alerts/index.ts';
import {
  CARE_TASKS, ROLES, appendJobEvent, forgetBackups, getBackup, createApiToken, listRepositories, recordAudit, createJob, dataDirPaths, getJob, getPolicy, loadSecretsBox, openCatalog, recordHostSeen, setJobState, syncHostVms,
  type CatalogJob, type JobState, type OpenCatalog, type Role, type SecretsBox,
} from '../catalog/index.ts';
import {
  ControllerFiles, catalogJobStore, type AgentControl, type AgentRegistration, type AgentReport, type CareRun, type ControllerApi, type ControllerInfo, type JobAction, type JobOutcome,
  type JobRequest, type JobStore, type JobUpdate,
} from '../controller/index.ts';
import { VmbakError, type Clock, type VmInfo } from '../core/index.ts';
import { createApiServer } from './api-server.ts';
import { listenApiServer } from './listen.ts';
import type { LoginLimits } from './login-limiter.ts';

export interface MovableClock extends Clock {
  advance(ms: number): void;
}

export function movableClock(startMs = Date.now()): MovableClock {
  let now = startMs;
  return { nowMs: () => now, advance: (ms) => { now += ms; } };
}

const ACTION_STATES: Record<JobAction, JobState> = { pause: 'paused', resume: 'running', abort: 'aborted' };

/** The controller as the API sees it, over a real catalog; no agent runs jobs — the test does. */
export class TestController implements ControllerApi {
  readonly catalog: OpenCatalog;
  readonly secrets: SecretsBox;
  readonly notifier: AlertNotifier;
  readonly files: ControllerFiles;
  readonly downloadsDir = null;
  ready = true;
  reloads = 0;
  inventory: VmInfo[] = [];
  readonly submitted: { request: JobRequest; actor: string }[] = [];
  readonly #listeners = new Set<(update: JobUpdate) => void>();

  readonly store: JobStore;
  readonly agentReports: { jobId: string; report: AgentReport }[] = [];
  readonly agentFinished: { jobId: string; outcome: JobOutcome }[] = [];

  constructor(catalog: OpenCatalog, secrets: SecretsBox, notifier: AlertNotifier) {
    this.catalog = catalog;
    this.secrets = secrets;
    this.notifier = notifier;
    this.store = catalogJobStore(catalog, secrets, (event) => notifier.notify(event));
    this.files = new ControllerFiles(catalog, this.store);
  }

  async agentRegister(host: string, uri: string | null): Promise<AgentRegistration> {
    await recordHostSeen(this.catalog, host, uri);
    return { redisUrl: 'redis://127.0.0.1:6379', queue: `vmbak-host-${host}`, careQueue: 'vmbak-care', repositories: [] };
  }

  async agentInventory(host: string, uri: string | null, vms: readonly VmInfo[]): Promise<void> { await syncHostVms(this.catalog, host, vms, uri); }

  async agentReport(jobId: string, report: AgentReport): Promise<AgentControl> {
    this.agentReports.push({ jobId, report });
    return { abort: false, paused: false };
  }

  async agentFinish(jobId: string, outcome: JobOutcome): Promise<void> {
    this.agentFinished.push({ jobId, outcome });
  }

  isReady(): boolean { return this.ready; }

  async submitJob(request: JobRequest, actor: string): Promise<CatalogJob> {
    this.submitted.push({ request, actor });
    const policy = 'policy' in request ? request.policy ?? null : null;
    const job = await createJob(this.catalog, { kind: request.kind, policy, trigger: 'manual', params: { ...request } });
    await recordAudit(this.catalog, actor, `job.${request.kind}`, job.id, { ...request });
    this.#emit(job, `queued by ${actor}`);
    return job;
  }

  async controlJob(jobId: string, action: JobAction, actor: string): Promise<CatalogJob> {
    if (!await getJob(this.catalog, jobId)) throw new VmbakError('JOB_NOT_FOUND', { jobId });
    const job = await setJobState(this.catalog, jobId, ACTION_STATES[action]);
    await recordAudit(this.catalog, actor, `job.${action}`, jobId);
    this.#emit(job, `${action} by ${actor}`);
    return job;
  }

  async retryJob(jobId: string, actor: string): Promise<CatalogJob> {
    const old = await getJob(this.catalog, jobId);
    if (!old) throw new VmbakError('JOB_NOT_FOUND', { jobId });
    if (!['failed', 'warning', 'aborted', 'interrupted'].includes(old.state)) {
      throw new VmbakError('JOB_NOT_RUNNING', { jobId, op: 'retried', detail: `it is ${old.state}` });
    }
    const job = await createJob(this.catalog, { kind: old.kind, policy: old.policy, trigger: 'retry', params: { ...old.params, retryOf: jobId } });
    await recordAudit(this.catalog, actor, 'job.retry', jobId, { retry: job.id });
    this.#emit(job, `retry of ${jobId} by ${actor}`);
    return job;
  }

  /** What an agent does when it takes a job. */
  async startJob(jobId: string): Promise<void> { this.#emit(await setJobState(this.catalog, jobId, 'running'), null); }

  async finishJob(jobId: string, state: JobState, error: string | null = null): Promise<void> {
    this.#emit(await setJobState(this.catalog, jobId, state, error), null);
  }

  async logLine(jobId: string, message: string): Promise<void> {
    await appendJobEvent(this.catalog, jobId, 'info', message);
    this.#emit((await getJob(this.catalog, jobId))!, message);
  }

  subscribe(listener: (update: JobUpdate) => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  get subscribers(): number { return this.#listeners.size; }

  async syncInventory(): Promise<void> { await syncHostVms(this.catalog, 'host-a', this.inventory); }

  async rebuildBackups(): Promise<{ added: number; removed: number }> { return { added: 0, removed: 0 }; }

  readonly deleted: { repository: string; backupId: string; catalogOnly: boolean }[] = [];

  async deleteBackup(repository: string, backupId: string, opts: { readonly catalogOnly: boolean }): Promise<void> {
    if (!(await getBackup(this.catalog, repository, backupId))) throw new VmbakError('BACKUP_NOT_FOUND', { backupId, repo: repository });
    this.deleted.push({ repository, backupId, ...opts });
    await forgetBackups(this.catalog, repository, [backupId]);
  }

  async reloadPolicies(): Promise<void> { this.reloads++; }

  async nextRuns(policy: string, count: number): Promise<number[]> {
    const record = await getPolicy(this.catalog, policy);
    if (!record) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'policy', name: policy });
    const cron = new Cron(record.spec.schedule, { paused: true, timezone: record.spec.timezone });
    return cron.nextRuns(count, new Date(this.catalog.clock.nowMs())).map((d) => d.getTime());
  }

  info(): ControllerInfo {
    return { dataDir: '/test', catalogLocation: this.catalog.location, catalogKind: 'sqlite', localAgent: false, remoteAgents: false, streams: 1, startedMs: 0 };
  }

  async careSchedule(): Promise<CareRun[]> {
    return (await listRepositories(this.catalog)).flatMap((r) => CARE_TASKS.map((task) => {
      const schedule = r.care[task];
      const next = schedule === false ? null : new Cron(schedule, { paused: true, timezone: r.care.timezone }).nextRun(new Date(this.catalog.clock.nowMs()));
      return { repository: r.name, task, schedule, timezone: r.care.timezone ?? null, nextMs: next?.getTime() ?? null };
    }));
  }

  #emit(job: CatalogJob, message: string | null): void {
    const update: JobUpdate = {
      jobId: job.id, kind: job.kind, state: job.state, bytesRead: job.bytesRead, bytesWritten: job.bytesWritten,
      bytesTotal: null, rateBytesPerSec: 0, message, atMs: this.catalog.clock.nowMs(), disks: [],
    };
    for (const listener of this.#listeners) listener(update);
  }
}

/** Parsed JSON of an answer: tests read fields without declaring every shape. */
export type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface SseEvent { readonly event: string; readonly data: Json }

export interface ApiAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: Json;
}

export interface TestApi {
  readonly url: string;
  readonly dataDir: string;
  readonly clock: MovableClock;
  readonly controller: TestController;
  /** A token of each role, made in the catalog as `vmbak token create` would. */
  readonly tokens: Record<Role, string>;
  /** The server's JSON log lines so far. */
  readonly logText: () => string;
  call(method: string, path: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<ApiAnswer>;
  /** Closes the server now (the test's end closes it otherwise). */
  close(): Promise<void>;
}

export interface TestApiOptions {
  readonly loginLimits?: LoginLimits;
  readonly logLevel?: string;
  /** A built console to serve at `/`. */
  readonly consoleDir?: string;
}

export async function startTestApi(t: TestContext, opts: TestApiOptions = {}): Promise<TestApi> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vmbak-api-'));
  const clock = movableClock();
  const paths = dataDirPaths(dataDir);
  const catalog = await openCatalog(paths.catalog, { clock });
  const secrets = loadSecretsBox(paths.secretsKey);
  const notifier = new AlertNotifier({ catalog, box: secrets, retryBaseMs: 10, retryMaxMs: 20 });
  const controller = new TestController(catalog, secrets, notifier);
  let log = '';
  const stream = new Writable({ write(chunk: Buffer, _enc, done) { log += chunk.toString('utf8'); done(); } });
  const app = createApiServer({ controller, logger: { level: opts.logLevel ?? 'info', stream }, loginLimits: opts.loginLimits, consoleDir: opts.consoleDir });
  const url = await listenApiServer(app, { host: '127.0.0.1', port: 0, tls: false });
  let closing: Promise<unknown> | null = null;
  const close = async (): Promise<void> => { await (closing ??= app.close()); };
  t.after(async () => {
    await close();
    await notifier.close();
    await catalog.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const tokens = Object.fromEntries(await Promise.all(ROLES.map(async (role) =>
    [role, (await createApiToken(catalog, { name: `test-${role}`, role })).token]))) as Record<Role, string>;
  return {
    url, dataDir, clock, controller, tokens, logText: () => log, close,
    call: (method, path, callOpts = {}) => callApi(url, method, path, callOpts),
  };
}

/** The secret part of a token "vmbak_<id>_<secret>" (the secret itself may hold "_"). */
export const tokenSecret = (token: string): string => token.replace(/^vmbak_[A-Za-z0-9]+_/, '');

export async function callApi(url: string, method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  let json: unknown;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

/** Reads Server-Sent Events from `path` until `until` accepts one (or the timeout); returns the events read. */
export async function readEvents(url: string, path: string, token: string, until: (e: SseEvent) => boolean,
  opts: { timeoutMs?: number; onOpen?: () => Promise<void> } = {}): Promise<SseEvent[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`no matching event from ${path} within ${opts.timeoutMs ?? 5000} ms`)), opts.timeoutMs ?? 5000);
  const events: SseEvent[] = [];
  try {
    const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    if (res.status !== 200 || !res.headers.get('content-type')?.startsWith('text/event-stream')) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let opened = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return events;
      buffer += value;
      if (!opened) { opened = true; await opts.onOpen?.(); }
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (event === undefined || data === undefined) continue;
        const parsed: SseEvent = { event, data: JSON.parse(data) as Json };
        events.push(parsed);
        if (until(parsed)) {
          abort.abort();
          return events;
        }
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

/** A self-signed certificate for 127.0.0.1 (openssl), in `dir`. */
export function selfSignedCertificate(dir: string): { cert: Buffer; key: Buffer } {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  return { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
}
