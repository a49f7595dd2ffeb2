// A TCP proxy on loopback in front of a real server that hangs up politely (FIN both ways, no
// reset) once the server has sent a chosen number of bytes: a server that closes the
// connection mid-protocol without any error, as a crashing or overloaded daemon may.

import { createServer, connect, type Server, type Socket } from 'node:net';

export interface CuttingProxy {
  readonly port: number;
  close(): Promise<void>;
}

/** Forwards to 127.0.0.1:targetPort; ends each connection after serverBytes from the server. */
export async function startCuttingProxy(targetPort: number, serverBytes: number): Promise<CuttingProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    for (const s of [client, upstream]) {
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    let forwarded = 0;
    client.on('data', (d: Buffer) => upstream.write(d));
    upstream.on('data', (d: Buffer) => {
      const room = serverBytes - forwarded;
      client.write(d.subarray(0, Math.max(0, room)));
      forwarded += d.length;
      if (forwarded >= serverBytes) {
        client.end();
        upstream.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
