// The alert notifier: notify(event) returns at once — a job that raises "job.failed" never
// waits for a mail server — and the event is routed in the background: the rules (read from
// the catalog each time, so API edits apply at once) name the channels; a repeat of the same
// event key to the same channel within the de-duplication window is dropped; each remaining
// (event, channel) gets a delivery row ("pending") before it is sent, then is sent with
// retries and exponential backoff, and the row is finished as delivered or undelivered with
// the reason. Routing is serialised (so two repeats cannot both pass the de-dup check);
// sends run in parallel, a few at a time. Secrets are read per send and never logged.

import { describeError, VmbakError } from '../core/index.ts';
import {
  finishDelivery, getAlertChannel, listAlertRules, readAlertChannelSecret, recordDeliveryQueued, wasAlerted,
  type AlertChannelRecord, type Catalog, type SecretsBox,
} from '../catalog/index.ts';
import { mailSubject, mailText, webhookPayload, type AlertEvent } from './alert-message.ts';
import { withRetries, type RetryOutcome } from './retry.ts';
import { sendMail } from './smtp.ts';
import { postWebhook } from './webhook.ts';

export interface NotifierOptions {
  readonly catalog: Catalog;
  readonly box: SecretsBox;
  /** Repeats of an event key to a channel within this window are dropped (default 1 h). */
  readonly dedupWindowMs?: number;
  /** First retry delay; doubles per retry up to retryMaxMs (defaults 2 s, 60 s). */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** Sends in flight at once (default 4). */
  readonly maxParallelSends?: number;
  readonly sleep?: (ms: number) => Promise<unknown>;
  /** Told about failures of the notifier itself (the catalog unreachable …); never given secrets. */
  readonly onProblem?: (message: string) => void;
}

export class AlertNotifier {
  readonly #opts: NotifierOptions;
  #routing: Promise<void> = Promise.resolve();
  readonly #sends = new Set<Promise<void>>();
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  #closed = false;

  constructor(opts: NotifierOptions) { this.#opts = opts; }

  /** Queues `event` for the channels its rules name; returns at once and never throws. */
  notify(event: AlertEvent): void {
    if (this.#closed) {
      this.#problem(`alert ${event.kind} ${event.key} dropped: the notifier is closed`);
      return;
    }
    // One event per turn of the event loop: the catalog is synchronous under its promises, so
    // a burst (the RPO watch raising 1 000 rpo.missed at once) routed as one chain of
    // microtasks would hold every API request for its whole length (~100 ms in the catalog bench).
    this.#routing = this.#routing.then(() => new Promise<void>((resolve) => setImmediate(resolve))).then(() => this.#route(event)).catch((err: unknown) => {
      this.#problem(`cannot route alert ${event.kind} ${event.key}: ${describeError(err)}`);
    });
  }

  /** Resolves once every queued event is routed and every send has finished. */
  async drain(): Promise<void> {
    for (;;) {
      const routing = this.#routing;
      await routing;
      if (this.#sends.size === 0 && routing === this.#routing) return;
      await Promise.all([...this.#sends]);
    }
  }

  /** Stops accepting events and waits for what is queued. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.drain();
  }

  /**
   * Sends a test message to `channel` now, once (no retries: the caller is waiting), and
   * records the delivery. Throws ALERT_UNDELIVERED with the reason when it fails.
   */
  async sendTest(channel: string): Promise<number> {
    const { catalog } = this.#opts;
    const record = await getAlertChannel(catalog, channel);
    if (!record) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'alert channel', name: channel });
    const nowMs = catalog.clock.nowMs();
    const event: AlertEvent = { kind: 'test', key: `test:${channel}:${nowMs}`, severity: 'info', message: `test message from vmbak to channel ${channel}`, timeMs: nowMs };
    const id = await recordDeliveryQueued(catalog, event.kind, event.key, channel);
    const outcome = await this.#send(record, event, id, 0);
    if (!outcome.ok) throw new VmbakError('ALERT_UNDELIVERED', { channel, detail: outcome.reason ?? 'unknown' });
    return id;
  }

  async #route(event: AlertEvent): Promise<void> {
    const { catalog } = this.#opts;
    const rules = await listAlertRules(catalog);
    const channels = new Set(rules.filter((r) => r.events.some((e) => e === '*' || e === event.kind)).flatMap((r) => r.channels));
    const sinceMs = catalog.clock.nowMs() - (this.#opts.dedupWindowMs ?? 3_600_000);
    for (const channel of channels) {
      if (await wasAlerted(catalog, event.kind, event.key, channel, sinceMs)) continue;
      const id = await recordDeliveryQueued(catalog, event.kind, event.key, channel);
      const send = this.#deliver(channel, event, id).catch((err: unknown) => {
        this.#problem(`alert ${event.kind} to channel ${channel}: ${describeError(err)}`);
      }).finally(() => this.#sends.delete(send));
      this.#sends.add(send);
    }
  }

  async #deliver(channel: string, event: AlertEvent, id: number): Promise<void> {
    const record = await getAlertChannel(this.#opts.catalog, channel);
    if (!record) {
      await finishDelivery(this.#opts.catalog, id, 'undelivered', 0, `no alert channel named ${channel}`);
      return;
    }
    await this.#send(record, event, id, record.spec.retries);
  }

  /** Sends with up to `retries` retries, one of at most maxParallelSends at a time, and finishes the delivery row. */
  async #send(channel: AlertChannelRecord, event: AlertEvent, id: number, retries: number): Promise<RetryOutcome> {
    const { catalog, box } = this.#opts;
    await this.#slot();
    let outcome: RetryOutcome;
    try {
      const secret = channel.hasSecret ? await readAlertChannelSecret(catalog, box, channel.name) : null;
      outcome = await withRetries(() => sendOnce(channel, secret, event, id), {
        retries, baseDelayMs: this.#opts.retryBaseMs ?? 2000, maxDelayMs: this.#opts.retryMaxMs ?? 60_000, sleep: this.#opts.sleep,
      });
    } catch (err) {
      outcome = { ok: false, attempts: 0, reason: describeError(err) };
    } finally {
      this.#release();
    }
    await finishDelivery(catalog, id, outcome.ok ? 'delivered' : 'undelivered', outcome.attempts, outcome.reason);
    return outcome;
  }

  async #slot(): Promise<void> {
    if (this.#running < (this.#opts.maxParallelSends ?? 4)) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve)); // handed a slot by #release
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running--;
  }

  #problem(message: string): void {
    (this.#opts.onProblem ?? ((m: string) => process.stderr.write(`vmbak: alerts: ${m}\n`)))(message);
  }
}

function sendOnce(channel: AlertChannelRecord, secret: string | null, event: AlertEvent, deliveryId: number): Promise<void> {
  const spec = channel.spec;
  if (spec.type === 'smtp') return sendMail(spec, secret, { subject: mailSubject(event, spec.subjectPrefix), text: mailText(event) });
  return postWebhook(spec, secret, JSON.stringify(webhookPayload(event)), String(deliveryId), event.kind);
}
