// vmbak's own NBD client: reads disks and their allocation/dirty maps from qemu-nbd and
// from libvirt's pull-mode backup exports. Requests are pipelined over one connection (the
// engine keeps several 4 MiB reads outstanding) and matched to replies by cookie. Once the
// connection breaks, every pending and later request fails with the same VmbakError, so no
// caller can mistake a partial disk for a whole one.

import net from 'node:net';
import { VmbakError, describeError } from '../core/index.ts';
import { FrameReader } from './frame-reader.ts';
import { negotiate } from './handshake.ts';
import type { NegotiatedExport } from './handshake.ts';
import { ReplyParser } from './reply-parser.ts';
import type { InFlightRequest } from './reply-parser.ts';
import { NBD_CMD_READ, NBD_CMD_BLOCK_STATUS, NBD_CMD_DISC, REQUEST_HEADER_BYTES, writeRequestHeader } from './protocol.ts';
import { decodeBlockStatus, mergeExtents } from './block-status.ts';
import type { BlockStatusExtent } from './block-status.ts';

export interface NbdConnectOptions {
  /** Export to attach to; '' is the server's default export. */
  readonly exportName?: string;
  /** Meta contexts to negotiate, e.g. base:allocation, qemu:dirty-bitmap:backup-vda. */
  readonly metaContexts?: readonly string[];
  /** How the server is named in messages; defaults to the socket path or host:port. */
  readonly serverLabel?: string;
  readonly handshakeTimeoutMs?: number;
}

/** Reads that do not go straight into a caller's buffer land here, then are copied out. */
const RECEIVE_BUFFER_BYTES = 256 * 1024;
/** Block status lengths are u32; 2 GiB keeps each request aligned for any block size. */
const MAX_BLOCK_STATUS_REQUEST_BYTES = 2 ** 31;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;
const CLOSE_TIMEOUT_MS = 5_000;

export class NbdClient {
  readonly sizeBytes: number;
  /** Meta contexts the server agreed to, by name, with the ids its replies carry. */
  readonly metaContexts: ReadonlyMap<string, number>;
  readonly serverLabel: string;
  /** Largest read the server accepts in one request; bigger reads are split. */
  readonly maxPayloadBytes: number;
  readonly transmissionFlags: number;
  private readonly socket: net.Socket;
  private readonly inFlight = new Map<number, InFlightRequest>();
  private readonly reader: FrameReader;
  private readonly parser: ReplyParser;
  private nextCookie = 1;
  private failure: VmbakError | null = null;
  private closing = false;
  private closed: Promise<void> | null = null;

  static connectUnix(socketPath: string, opts: NbdConnectOptions = {}): Promise<NbdClient> {
    return NbdClient.connect({ path: socketPath }, opts.serverLabel ?? socketPath, opts);
  }

  static connectTcp(host: string, port: number, opts: NbdConnectOptions = {}): Promise<NbdClient> {
    return NbdClient.connect({ host, port, noDelay: true }, opts.serverLabel ?? `${host}:${port}`, opts);
  }

  private static async connect(where: net.NetConnectOpts, serverLabel: string, opts: NbdConnectOptions): Promise<NbdClient> {
    const reader = new FrameReader();
    const receiveBuffer = Buffer.allocUnsafe(RECEIVE_BUFFER_BYTES);
    const socket = net.connect({
      ...where,
      onread: {
        buffer: () => reader.nextReadBuffer(receiveBuffer),
        callback: (n, buf) => { reader.onSocketRead(n, buf); return true; },
      },
    });
    const connectFailed = (err: unknown) => new VmbakError('NBD_CONNECT', { server: serverLabel, detail: describeError(err) }, { cause: err });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', (err) => reject(connectFailed(err)));
    });
    socket.on('error', (err) => reader.fail(connectFailed(err)));
    socket.on('close', () => reader.fail(new VmbakError('NBD_CONNECT', { server: serverLabel, detail: 'server closed the connection during the handshake' })));
    const timeoutMs = opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    const timer = setTimeout(() => reader.fail(new VmbakError('NBD_CONNECT', { server: serverLabel, detail: `no handshake within ${timeoutMs} ms` })), timeoutMs);
    try {
      const negotiated = await negotiate(socket, reader, {
        exportName: opts.exportName ?? '', metaContexts: opts.metaContexts ?? [], serverLabel,
      });
      socket.removeAllListeners('error');
      socket.removeAllListeners('close');
      return new NbdClient(socket, reader, negotiated, serverLabel);
    } catch (err) {
      socket.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private constructor(socket: net.Socket, reader: FrameReader, negotiated: NegotiatedExport, serverLabel: string) {
    this.socket = socket;
    this.reader = reader;
    this.sizeBytes = negotiated.sizeBytes;
    this.metaContexts = negotiated.metaContexts;
    this.maxPayloadBytes = negotiated.maxPayloadBytes;
    this.transmissionFlags = negotiated.transmissionFlags;
    this.serverLabel = serverLabel;
    this.parser = new ReplyParser(reader, {
      serverLabel,
      find: (cookie) => this.inFlight.get(cookie),
      finish: (request) => { this.inFlight.delete(request.cookie); request.settle(); },
      onFatal: (err) => this.fail(err),
    });
    socket.on('error', (err) => this.fail(new VmbakError('NBD_PROTOCOL', { server: serverLabel, detail: `connection failed: ${describeError(err)}` })));
    socket.on('close', () => this.fail(new VmbakError('NBD_PROTOCOL', { server: serverLabel, detail: 'the connection closed unexpectedly' })));
    this.parser.start();
  }

  /**
   * Reads exactly lengthBytes at offsetBytes; holes come back as zeros. With `into`, the data
   * lands in that buffer (callers recycle buffers instead of allocating one per read).
   */
  async read(offsetBytes: number, lengthBytes: number, into?: Buffer): Promise<Buffer> {
    this.checkRange('read', offsetBytes, lengthBytes);
    const dest = into ? into.subarray(0, lengthBytes) : Buffer.allocUnsafe(lengthBytes);
    const pieces: Promise<void>[] = [];
    this.socket.cork();
    for (let at = 0; at < lengthBytes; at += this.maxPayloadBytes) {
      const pieceBytes = Math.min(this.maxPayloadBytes, lengthBytes - at);
      pieces.push(this.submit(NBD_CMD_READ, offsetBytes + at, pieceBytes, dest.subarray(at, at + pieceBytes)).then(() => {}));
    }
    this.socket.uncork();
    await Promise.all(pieces);
    return dest;
  }

  /**
   * Extents of one negotiated meta context covering exactly [offsetBytes, offsetBytes+lengthBytes).
   * Servers may describe less than asked, so this asks again from where the answer ended.
   */
  async blockStatus(context: string, offsetBytes: number, lengthBytes: number): Promise<BlockStatusExtent[]> {
    this.checkRange('block status', offsetBytes, lengthBytes);
    const contextId = this.metaContexts.get(context);
    if (contextId === undefined) {
      throw new VmbakError('NBD_CONNECT', { server: this.serverLabel, detail: `meta context ${context} was not negotiated` });
    }
    const extents: BlockStatusExtent[] = [];
    const endBytes = offsetBytes + lengthBytes;
    for (let at = offsetBytes; at < endBytes;) {
      const askBytes = Math.min(endBytes - at, MAX_BLOCK_STATUS_REQUEST_BYTES);
      const request = await this.submit(NBD_CMD_BLOCK_STATUS, at, askBytes, null);
      const answered = decodeBlockStatus(request.statusChunks, contextId, at, askBytes);
      if (typeof answered === 'string') {
        throw this.fail(new VmbakError('NBD_PROTOCOL', { server: this.serverLabel, detail: answered }));
      }
      extents.push(...answered);
      at = answered[answered.length - 1]!.offsetBytes + answered[answered.length - 1]!.lengthBytes;
    }
    return mergeExtents(extents);
  }

  /** Ends the session politely (NBD_CMD_DISC) and waits for the server to close. Idempotent. */
  close(): Promise<void> {
    this.closed ??= this.disconnect();
    return this.closed;
  }

  private async disconnect(): Promise<void> {
    if (this.failure || this.socket.destroyed) { this.socket.destroy(); return; }
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    const header = Buffer.allocUnsafe(REQUEST_HEADER_BYTES);
    writeRequestHeader(header, 0, NBD_CMD_DISC, 0, 0, 0, 0);
    this.closing = true;
    this.fail(new VmbakError('NBD_CONNECT', { server: this.serverLabel, detail: 'the client was closed' }));
    this.socket.end(header);
    const timer = setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS);
    await closed;
    clearTimeout(timer);
  }

  private checkRange(op: string, offsetBytes: number, lengthBytes: number): void {
    if (!Number.isSafeInteger(offsetBytes) || !Number.isSafeInteger(lengthBytes) || offsetBytes < 0 || lengthBytes < 0
      || offsetBytes + lengthBytes > this.sizeBytes) {
      throw new VmbakError('INTERNAL', { detail: `${op} of ${lengthBytes} bytes at ${offsetBytes} outside NBD export ${this.serverLabel} (${this.sizeBytes} bytes)` });
    }
  }

  private submit(type: number, offsetBytes: number, lengthBytes: number, dest: Buffer | null): Promise<InFlightRequest> {
    if (this.failure) return Promise.reject(this.failure);
    const cookie = this.nextCookie++;
    return new Promise((resolve, reject) => {
      const request: InFlightRequest = {
        cookie, type, offsetBytes, lengthBytes, dest, coveredBytes: 0, error: null, statusChunks: [],
        settle: () => (request.error ? reject(request.error) : resolve(request)),
      };
      this.inFlight.set(cookie, request);
      const header = Buffer.allocUnsafe(REQUEST_HEADER_BYTES);
      writeRequestHeader(header, 0, type, 0, cookie, offsetBytes, lengthBytes);
      this.socket.write(header);
    });
  }

  /** Marks the connection broken and fails everything still waiting; returns the error. */
  private fail(err: VmbakError): VmbakError {
    if (this.failure) return this.failure;
    this.failure = err;
    this.parser.stop();
    this.reader.fail(err);
    // A broken stream cannot be resynchronised; closing() still needs the socket for DISC.
    if (!this.closing) this.socket.destroy();
    for (const request of this.inFlight.values()) {
      request.error = err;
      request.settle();
    }
    this.inFlight.clear();
    return err;
  }
}
