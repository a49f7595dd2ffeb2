// A TCP proxy on loopback that counts the bytes it carries each way: put in front of a
// server, it shows how much data really passed through that server's sockets.

import { createServer, connect, type Socket } from 'node:net';

export interface CountingProxy {
  readonly port: number;
  /** Bytes from clients to the server, and back. */
  readonly bytes: { toServer: number; fromServer: number };
  close(): Promise<void>;
}

export async function startCountingProxy(targetPort: number): Promise<CountingProxy> {
  const bytes = { toServer: 0, fromServer: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => { client.destroy(); upstream.destroy(); });
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (d: Buffer) => { bytes.toServer += d.length; upstream.write(d); });
    upstream.on('data', (d: Buffer) => { bytes.fromServer += d.length; client.write(d); });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    bytes,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
