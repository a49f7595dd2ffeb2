// A webhook endpoint on loopback that answers 200 and keeps the paths it was posted to: where
// a test's alert channel delivers.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';

export interface WebhookReceiver {
  /** The URL to give a channel (…/vmbak). */
  readonly url: string;
  /** The request paths received, in order. */
  readonly paths: string[];
}

export async function startWebhookReceiver(t: TestContext): Promise<WebhookReceiver> {
  const paths: string[] = [];
  const server = createServer((req, res) => { req.resume(); req.on('end', () => { paths.push(req.url ?? ''); res.end('ok'); }); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { server.close(); });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/vmbak`, paths };
}
