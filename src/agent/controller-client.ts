// An agent's line to the controller: JSON over the REST API with the agent's bearer token.
// A controller that cannot be reached, or is still starting (503), is CONTROLLER_UNREACHABLE
// (retryable: the caller tries again later); one that answers with any other problem is
// CONTROLLER_REFUSED, carrying its words. Given several controllers (sharing one catalog and
// Redis), a call that finds one away goes to the next.

import { VmbakError, describeError, isVmbakError } from '../core/index.ts';

export class ControllerClient {
  readonly #urls: string[];
  readonly #token: string;
  readonly #timeoutMs: number;
  #current = 0;

  /** `urls`: one controller, or several sharing one catalog (comma-separated): the next is tried when one is away. */
  constructor(urls: string, token: string, timeoutMs = 30_000) {
    this.#urls = urls.split(',').map((u) => u.trim().replace(/\/+$/, '')).filter(Boolean);
    this.#token = token;
    this.#timeoutMs = timeoutMs;
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
    let response: Response;
    try {
      response = await fetch(`${this.url}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${this.#token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new VmbakError('CONTROLLER_UNREACHABLE', { url: this.url, detail: describeError((err as Error).cause ?? err) }, { cause: err });
    }
    const text = await response.text();
    // 503: a controller still starting (its sweep not done): as good as away for a moment.
    if (response.status === 503) throw new VmbakError('CONTROLLER_UNREACHABLE', { url: this.url, detail: 'not ready yet (HTTP 503)' });
    if (!response.ok) {
      let detail = `HTTP ${response.status}`;
      try { detail = (JSON.parse(text) as { detail?: string }).detail ?? detail; } catch { /* not a problem document */ }
      throw new VmbakError('CONTROLLER_REFUSED', { url: this.url, method, path: `/api/v1${path}`, detail });
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }
}
