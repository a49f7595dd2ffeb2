// Reads transmission-phase replies (simple and structured) and routes each to the request
// with the same cookie, so any number of requests can be in flight and finish out of order.
// Read payloads are copied once, from the socket chunk straight into the caller's buffer.
// A reply that breaks the protocol ends the connection (onFatal); a server-reported error
// fails only the request it belongs to.

import { VmbakError } from '../core/index.ts';
import type { FrameReader } from './frame-reader.ts';
import {
  NBD_CMD_READ, NBD_CMD_BLOCK_STATUS, NBD_SIMPLE_REPLY_MAGIC, NBD_STRUCTURED_REPLY_MAGIC, NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_NONE, NBD_REPLY_TYPE_OFFSET_DATA, NBD_REPLY_TYPE_OFFSET_HOLE, NBD_REPLY_TYPE_BLOCK_STATUS,
  NBD_REPLY_TYPE_ERROR_BIT, NBD_REPLY_TYPE_ERROR_OFFSET, SIMPLE_REPLY_HEADER_BYTES, STRUCTURED_REPLY_HEADER_BYTES,
  describeNbdErrno, readUInt64,
} from './protocol.ts';

/** Block status and error chunks are metadata; anything bigger is a broken or hostile server. */
const MAX_METADATA_CHUNK_BYTES = 64 * 1024 * 1024;

export interface InFlightRequest {
  readonly cookie: number;
  readonly type: number;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  /** READ only: where the data goes, exactly lengthBytes long. */
  readonly dest: Buffer | null;
  coveredBytes: number;
  error: VmbakError | null;
  /** BLOCK_STATUS only: raw chunk payloads (context id + descriptors). */
  readonly statusChunks: Buffer[];
  settle(): void;
}

export interface ReplyRouting {
  readonly serverLabel: string;
  find(cookie: number): InFlightRequest | undefined;
  /** Removes the request from the in-flight table and settles it. */
  finish(request: InFlightRequest): void;
  onFatal(err: VmbakError): void;
}

export class ReplyParser {
  private readonly reader: FrameReader;
  private readonly routing: ReplyRouting;
  private readonly header = Buffer.allocUnsafe(STRUCTURED_REPLY_HEADER_BYTES);
  private readonly small = Buffer.allocUnsafe(12);
  private stopped = false;

  constructor(reader: FrameReader, routing: ReplyRouting) {
    this.reader = reader;
    this.routing = routing;
  }

  start(): void { this.nextReply(); }

  stop(): void { this.stopped = true; }

  private nextReply(): void {
    if (this.stopped) return;
    this.reader.expect(this.header.subarray(0, SIMPLE_REPLY_HEADER_BYTES), () => this.onCommonHeader());
  }

  private fatal(detail: string): void {
    this.stopped = true;
    this.routing.onFatal(new VmbakError('NBD_PROTOCOL', { server: this.routing.serverLabel, detail }));
  }

  private lookup(cookie: number): InFlightRequest | undefined {
    const request = this.routing.find(cookie);
    if (!request) this.fatal(`reply for unknown cookie ${cookie}`);
    return request;
  }

  private onCommonHeader(): void {
    const magic = this.header.readUInt32BE(0);
    if (magic === NBD_SIMPLE_REPLY_MAGIC) return this.onSimpleReply();
    if (magic !== NBD_STRUCTURED_REPLY_MAGIC) return this.fatal(`bad reply magic 0x${magic.toString(16)}`);
    this.reader.expect(this.header.subarray(SIMPLE_REPLY_HEADER_BYTES), () => this.onStructuredHeader());
  }

  /** Simple reply: magic (u32), error (u32), cookie (u64); READ data follows only on success. */
  private onSimpleReply(): void {
    const errno = this.header.readUInt32BE(4);
    const request = this.lookup(readUInt64(this.header, 8));
    if (!request) return;
    if (errno !== 0) {
      request.error = this.serverError(request, errno, '');
    } else if (request.type === NBD_CMD_READ && request.dest) {
      return this.reader.expect(request.dest, () => {
        request.coveredBytes = request.lengthBytes;
        this.endChunk(request, true);
      });
    } else if (request.type === NBD_CMD_BLOCK_STATUS) {
      return this.fatal('simple reply to a block status request');
    }
    this.endChunk(request, true);
  }

  /** Structured chunk: magic (u32), flags (u16), type (u16), cookie (u64), length (u32). */
  private onStructuredHeader(): void {
    const done = (this.header.readUInt16BE(4) & NBD_REPLY_FLAG_DONE) !== 0;
    const chunkType = this.header.readUInt16BE(6);
    const lengthBytes = this.header.readUInt32BE(16);
    const request = this.lookup(readUInt64(this.header, 8));
    if (!request) return;
    if (chunkType === NBD_REPLY_TYPE_NONE) {
      return lengthBytes === 0 ? this.endChunk(request, done) : this.fatal('NONE chunk with a payload');
    }
    if (chunkType === NBD_REPLY_TYPE_OFFSET_DATA && request.dest && lengthBytes >= 8) {
      return this.onOffsetData(request, lengthBytes - 8, done);
    }
    if (chunkType === NBD_REPLY_TYPE_OFFSET_HOLE && request.dest && lengthBytes === 12) {
      return this.onOffsetHole(request, done);
    }
    if (lengthBytes > MAX_METADATA_CHUNK_BYTES) return this.fatal(`chunk of ${lengthBytes} bytes`);
    if (chunkType === NBD_REPLY_TYPE_BLOCK_STATUS && request.type === NBD_CMD_BLOCK_STATUS && lengthBytes >= 12) {
      const payload = Buffer.allocUnsafe(lengthBytes);
      return this.reader.expect(payload, () => {
        request.statusChunks.push(payload);
        this.endChunk(request, done);
      });
    }
    if (chunkType & NBD_REPLY_TYPE_ERROR_BIT && lengthBytes >= 6) {
      const payload = Buffer.allocUnsafe(lengthBytes);
      return this.reader.expect(payload, () => this.onErrorChunk(request, chunkType, payload, done));
    }
    this.fatal(`unexpected chunk type ${chunkType} (${lengthBytes} bytes) for command ${request.type}`);
  }

  private onOffsetData(request: InFlightRequest, dataBytes: number, done: boolean): void {
    this.reader.expect(this.small.subarray(0, 8), () => {
      const at = readUInt64(this.small, 0) - request.offsetBytes;
      if (at < 0 || at + dataBytes > request.lengthBytes) return this.fatal('data chunk outside the requested range');
      this.reader.expect(request.dest!.subarray(at, at + dataBytes), () => {
        request.coveredBytes += dataBytes;
        this.endChunk(request, done);
      });
    });
  }

  /** OFFSET_HOLE: offset (u64), hole size (u32); the hole reads as zeros. */
  private onOffsetHole(request: InFlightRequest, done: boolean): void {
    this.reader.expect(this.small, () => {
      const at = readUInt64(this.small, 0) - request.offsetBytes;
      const holeBytes = this.small.readUInt32BE(8);
      if (at < 0 || at + holeBytes > request.lengthBytes) return this.fatal('hole chunk outside the requested range');
      request.dest!.fill(0, at, at + holeBytes);
      request.coveredBytes += holeBytes;
      this.endChunk(request, done);
    });
  }

  /** ERROR: error (u32), message length (u16), message; ERROR_OFFSET adds the offset (u64). */
  private onErrorChunk(request: InFlightRequest, chunkType: number, payload: Buffer, done: boolean): void {
    const messageBytes = payload.readUInt16BE(4);
    if (6 + messageBytes > payload.length) return this.fatal('error chunk message overruns the chunk');
    const message = payload.toString('utf8', 6, 6 + messageBytes);
    const offsetBytes = chunkType === NBD_REPLY_TYPE_ERROR_OFFSET && payload.length >= 14 + messageBytes
      ? readUInt64(payload, 6 + messageBytes) : undefined;
    request.error ??= this.serverError(request, payload.readUInt32BE(0), message, offsetBytes);
    this.endChunk(request, done);
  }

  private serverError(request: InFlightRequest, errno: number, message: string, offsetBytes?: number): VmbakError {
    const op = request.type === NBD_CMD_READ ? 'read' : request.type === NBD_CMD_BLOCK_STATUS ? 'block status' : `command ${request.type}`;
    const detail = message ? `${describeNbdErrno(errno)}: ${message}` : describeNbdErrno(errno);
    return new VmbakError('NBD_ERROR', { server: this.routing.serverLabel, op, offset: offsetBytes ?? request.offsetBytes, detail });
  }

  private endChunk(request: InFlightRequest, done: boolean): void {
    if (done) {
      if (!request.error && request.dest && request.coveredBytes !== request.lengthBytes) {
        request.error = new VmbakError('NBD_PROTOCOL', {
          server: this.routing.serverLabel,
          detail: `read at offset ${request.offsetBytes} returned ${request.coveredBytes} of ${request.lengthBytes} bytes`,
        });
      }
      this.routing.finish(request);
    }
    this.nextReply();
  }
}
