// One client connection as the server sees it: bytes in through a FrameReader, bytes out in
// order, and the switch to TLS in the middle of the handshake (NBD_OPT_STARTTLS), after
// which both directions go through the TLS socket wrapped around the same TCP/unix socket.

import type net from 'node:net';
import tls from 'node:tls';
import { FrameReader } from './frame-reader.ts';

export class ServerWire {
  private socket: net.Socket;
  reader = new FrameReader();
  private readonly tlsContext: tls.SecureContext | null;
  private readonly onData = (chunk: Buffer): void => this.reader.push(chunk, true);
  private readonly onGone = (): void => this.reader.fail(new Error('the client closed the connection'));
  /** Resolves when the underlying socket has closed. */
  readonly closed: Promise<void>;

  constructor(socket: net.Socket, tlsContext: tls.SecureContext | null) {
    this.socket = socket;
    this.tlsContext = tlsContext;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {}); // 'close' follows; a reset client is not the server's error
    this.attach(socket);
  }

  get tlsAvailable(): boolean {
    return this.tlsContext !== null;
  }

  get isOpen(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }

  /** Writes the pieces as one unit: no other reply can come between them. */
  write(...pieces: Buffer[]): void {
    if (!this.isOpen) return;
    if (pieces.length === 1) { this.socket.write(pieces[0]!); return; }
    this.socket.cork();
    for (const p of pieces) this.socket.write(p);
    this.socket.uncork();
  }

  /** Bytes written but not yet handed to the kernel. */
  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  /** Resolves once the queued output has drained (or the connection is gone). */
  drained(): Promise<void> {
    if (!this.isOpen || this.socket.writableLength === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => { this.socket.off('drain', done); this.socket.off('close', done); resolve(); };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  pauseReading(): void { this.socket.pause(); }
  resumeReading(): void { this.socket.resume(); }

  /** Sends what is queued, then closes. */
  end(): void { this.socket.end(); }

  destroy(): void { this.socket.destroy(); }

  /** Wraps the connection in TLS as the server side; the handshake goes on over TLS. */
  async upgradeToTls(): Promise<void> {
    if (!this.tlsContext) throw new Error('no TLS context');
    const raw = this.socket;
    this.detach(raw);
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: this.tlsContext });
    await new Promise<void>((resolve, reject) => {
      secure.once('secure', resolve);
      secure.once('error', reject);
      secure.once('close', () => reject(new Error('the client closed the connection during the TLS handshake')));
    });
    secure.removeAllListeners('error');
    secure.removeAllListeners('close');
    secure.on('error', () => {});
    this.socket = secure;
    this.reader = new FrameReader();
    this.attach(secure);
  }

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onGone);
    socket.on('close', this.onGone);
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.onData);
    socket.off('end', this.onGone);
    socket.off('close', this.onGone);
  }
}
