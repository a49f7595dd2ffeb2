// Server-Sent Events: a response that stays open and carries `event:`/`data:` frames (one
// JSON value per frame), with a comment line every 15 s so proxies keep it open. The stream
// ends when the client goes away, when the route ends it, or when the server closes.
// Browsers' EventSource cannot send an Authorization header; the console reads streams with
// fetch() instead, which can.

import type { FastifyReply, FastifyRequest } from 'fastify';

const HEARTBEAT_MS = 15_000;

export class EventStream {
  readonly #reply: FastifyReply;
  readonly #onEnd: (() => void)[] = [];
  readonly #heartbeat: NodeJS.Timeout;
  #ended = false;

  constructor(request: FastifyRequest, reply: FastifyReply, streams: Set<EventStream>) {
    this.#reply = reply;
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive', 'x-accel-buffering': 'no',
    });
    reply.raw.write(': vmbak event stream\n\n');
    this.#heartbeat = setInterval(() => reply.raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
    this.#heartbeat.unref();
    streams.add(this);
    this.onEnd(() => streams.delete(this));
    request.raw.once('close', () => this.end());
    reply.raw.once('close', () => this.end());
  }

  get ended(): boolean { return this.#ended; }

  /** Sends one event; `id` lets a reconnecting client resume (Last-Event-ID). */
  send(event: string, data: unknown, id?: number | string): void {
    if (this.#ended) return;
    this.#reply.raw.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  onEnd(fn: () => void): void {
    if (this.#ended) fn();
    else this.#onEnd.push(fn);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#heartbeat);
    for (const fn of this.#onEnd.splice(0)) fn();
    this.#reply.raw.end();
  }
}
