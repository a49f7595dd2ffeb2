// Server-Sent Events read with fetch(), because EventSource cannot send the Authorization
// header. followEvents() reconnects after a dropped connection (with Last-Event-ID, so a job's
// log is not repeated) until the caller aborts or the server ends the stream on purpose.

import { asApiError, problemFrom } from './problem.ts';
import { currentSession, endSession } from './session.ts';

export interface StreamEvent {
  readonly event: string;
  readonly data: unknown;
  readonly id: string | null;
}

export interface FollowOptions {
  readonly signal: AbortSignal;
  onEvent(event: StreamEvent): void;
  /** The stream ended or failed; the reader is about to retry (or stop when `final`). */
  onError?(err: unknown, final: boolean): void;
  /** The server closed the stream; true: that is the end (a finished job), false: reconnect. */
  endsWhenClosed?: boolean;
}

const RETRY_MS = [1000, 2000, 5000, 10_000];

export async function followEvents(path: string, opts: FollowOptions): Promise<void> {
  let lastId: string | null = null;
  for (let attempt = 0; !opts.signal.aborted; attempt++) {
    try {
      await readOnce(path, lastId, opts, (id) => { lastId = id; attempt = 0; });
      if (opts.endsWhenClosed) return;
    } catch (err) {
      if (opts.signal.aborted) return;
      const problem = asApiError(err);
      const final = problem.status >= 400 && problem.status < 500;
      opts.onError?.(problem, final);
      if (final) return;
    }
    await sleep(RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]!, opts.signal);
  }
}

async function readOnce(path: string, lastId: string | null, opts: FollowOptions, seen: (id: string) => void): Promise<void> {
  const session = currentSession();
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (session) headers.authorization = `Bearer ${session.token}`;
  if (lastId !== null) headers['last-event-id'] = lastId;
  const res = await fetch(path, { headers, signal: opts.signal, cache: 'no-store' });
  if (!res.ok || !res.body) {
    if (res.status === 401) endSession('Your session has ended; log in again.');
    throw problemFrom(res.status, await res.json().catch(() => null));
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = parseFrame(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (!frame) continue;
      if (frame.id !== null) seen(frame.id);
      opts.onEvent(frame);
    }
  }
}

function parseFrame(text: string): StreamEvent | null {
  let event = 'message';
  let id: string | null = null;
  const data: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith(':')) continue; // a comment: the server's keep-alive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (data.length === 0) return null;
  return { event, id, data: JSON.parse(data.join('\n')) as unknown };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
