// An agent's line to the controller: JSON over the REST API with the agent's bearer token.
// The token and the repositories' credentials travel here, so a controller beyond this
// machine is reached over HTTPS only (a private CA's certificate with `ca`), unless the user
// says the network is trusted. A controller that cannot be reached, or is still starting
// (503), is CONTROLLER_UNREACHABLE (retryable: the caller tries again later); one that
// answers with any other problem is CONTROLLER_REFUSED, carrying its words. Given several
// controllers (sharing one catalog and Redis), a call that finds one away goes to the next.

import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { VmbakError, describeError, isLoopbackHost, isVmbakError } from '../core/index.ts';

export interface ControllerClientOptions {
  /** PEM certificate(s) to trust for HTTPS besides the system's (a private CA, a self-signed controller). */
  readonly ca?: string | Buffer;
  /** Allows http:// beyond loopback (--insecure-http). */
  readonly allowPlaintext?: boolean;
  readonly timeoutMs?: number;
}

export class ControllerClient {
  readonly #urls: string[];
  readonly #token: string;
  readonly #opts: ControllerClientOptions;
  #current = 0;

  /** `urls`: one controller, or several sharing one catalog (comma-separated): the next is tried when one is away. */
  constructor(urls: string, token: string, opts: ControllerClientOptions = {}) {
    this.#urls = urls.split(',').map((u) => u.trim().replace(/\/+$/, '')).filter(Boolean);
    this.#token = token;
    this.#opts = opts;
    for (const url of this.#urls) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new VmbakError('USAGE', { detail: `--controller ${url}: not a URL (e.g. https://controller:8470)` });
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new VmbakError('USAGE', { detail: `--controller ${url}: give an http:// or https:// URL` });
      if (parsed.protocol === 'http:' && !isLoopbackHost(parsed.hostname) && !opts.allowPlaintext) throw new VmbakError('CONTROLLER_INSECURE', { url });
    }
  }

  /** The controller talked to now. */
  get url(): string {
    return this.#urls[this.#current]!;
  }

  async call<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T> {
    for (let tried = 1; ; tried++) {
      try {
        return await this.#callOne<T>(method, path, body);
      } catch (err) {
        if (!isVmbakError(err, 'CONTROLLER_UNREACHABLE') || tried >= this.#urls.length) throw err;
        this.#current = (this.#current + 1) % this.#urls.length;
      }
    }
  }

  async #callOne<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T> {
    let response: { status: number; text: string };
    try {
      response = await this.#send(method, `${this.url}/api/v1${path}`, body === undefined ? undefined : JSON.stringify(body));
    } catch (err) {
      throw new VmbakError('CONTROLLER_UNREACHABLE', { url: this.url, detail: describeError(err) }, { cause: err });
    }
    const { status, text } = response;
    // 503: a controller still starting (its sweep not done): as good as away for a moment.
    if (status === 503) throw new VmbakError('CONTROLLER_UNREACHABLE', { url: this.url, detail: 'not ready yet (HTTP 503)' });
    if (status < 200 || status >= 300) {
      let detail = `HTTP ${status}`;
      try { detail = (JSON.parse(text) as { detail?: string }).detail ?? detail; } catch { /* not a problem document */ }
      throw new VmbakError('CONTROLLER_REFUSED', { url: this.url, method, path: `/api/v1${path}`, detail });
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  #send(method: string, url: string, body: string | undefined): Promise<{ status: number; text: string }> {
    const headers: Record<string, string | number> = { authorization: `Bearer ${this.#token}` };
    if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    const timeout = this.#opts.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const done = (res: IncomingMessage) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
        res.on('error', reject);
      };
      const req = url.startsWith('https:')
        ? httpsRequest(url, { method, headers, ca: this.#opts.ca, timeout }, done)
        : httpRequest(url, { method, headers, timeout }, done);
      req.on('timeout', () => req.destroy(new Error(`no answer in ${timeout / 1000} s`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}
