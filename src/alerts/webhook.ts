// Webhook channel: one JSON POST per alert. The body is signed so the receiver can tell it
// came from this controller — X-Vmbak-Signature: sha256=<hex HMAC-SHA-256 of the exact body
// bytes under the channel's secret> (GitHub's form) — and carries a delivery id that stays
// the same across retries, so a receiver can drop duplicates. A 2xx answer is delivered; 408,
// 429, 5xx and network errors are retried; anything else (4xx, a redirect, which is not
// followed) is final: the receiver refuses this request and will refuse it again.

import { createHmac } from 'node:crypto';
import type { WebhookChannelSpec } from '../catalog/index.ts';
import { parseDuration } from '../core/index.ts';
import { PermanentFailure } from './retry.ts';

export const SIGNATURE_HEADER = 'X-Vmbak-Signature';

export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** One POST attempt; throws on anything but a 2xx answer. */
export async function postWebhook(spec: WebhookChannelSpec, secret: string | null, body: string, deliveryId: string, kind: string): Promise<void> {
  const headers: Record<string, string> = {
    'content-type': 'application/json', 'user-agent': 'vmbak', 'x-vmbak-event': kind, 'x-vmbak-delivery': deliveryId,
  };
  if (secret !== null) headers[SIGNATURE_HEADER.toLowerCase()] = signBody(secret, body);
  let response: Response;
  try {
    response = await fetch(spec.url, {
      method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(parseDuration(spec.timeout) ?? 10_000),
    });
  } catch (err) {
    // fetch says "fetch failed" and keeps the reason in its cause; the URL (which may hold a token) is left out.
    const cause = (err as { cause?: unknown }).cause;
    throw new Error(err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${spec.timeout}` : describe(cause ?? err));
  }
  await response.body?.cancel();
  if (response.ok) return;
  const failure = `the receiver answered HTTP ${response.status}`;
  const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
  throw retryable ? new Error(failure) : new PermanentFailure(failure);
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e?.code && !e.message?.includes(e.code) ? `${e.code}: ${e.message}` : (e?.message ?? String(err));
}
