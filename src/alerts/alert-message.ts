// What an alert says, the same on every channel: a subject line, a plain-text body, and the
// JSON document a webhook receives. The JSON is versioned; docs/config.md lists its fields.

import { hostname } from 'node:os';

/** An event as alerts see it (a catalog EventRecord fits, and so does a test message). */
export interface AlertEvent {
  readonly kind: string;
  readonly key: string;
  readonly severity: 'info' | 'warning' | 'error';
  readonly message: string;
  readonly timeMs: number;
  readonly data?: Readonly<Record<string, unknown>>;
}

export interface WebhookPayload {
  readonly version: 1;
  readonly kind: string;
  readonly key: string;
  readonly severity: AlertEvent['severity'];
  readonly message: string;
  readonly time: string;
  readonly controller: string;
  readonly data: Readonly<Record<string, unknown>>;
}

export function webhookPayload(event: AlertEvent): WebhookPayload {
  return {
    version: 1, kind: event.kind, key: event.key, severity: event.severity, message: event.message,
    time: new Date(event.timeMs).toISOString(), controller: hostname(), data: event.data ?? {},
  };
}

export function mailSubject(event: AlertEvent, prefix: string): string {
  return `${prefix ? `${prefix} ` : ''}${event.kind}: ${event.message}`.replace(/[\r\n]+/g, ' ').slice(0, 200);
}

export function mailText(event: AlertEvent): string {
  const lines = [
    event.message, '',
    `event:      ${event.kind}`, `severity:   ${event.severity}`, `time:       ${new Date(event.timeMs).toISOString()}`,
    `controller: ${hostname()}`,
  ];
  for (const [key, value] of Object.entries(event.data ?? {})) lines.push(`${`${key}:`.padEnd(12)}${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return `${lines.join('\n')}\n`;
}
