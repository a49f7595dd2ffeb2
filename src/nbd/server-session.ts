// The transmission phase of one connection: requests are read one after another and served
// concurrently, each reply written whole when it is ready, so replies may overtake each
// other (the client matches them by cookie). Reading pauses while too much is in flight, so
// a client that pipelines faster than the export answers cannot grow the server's memory.
// A failed request answers with an error for that request only; a request that breaks the
// protocol ends the connection.

import type { NbdExport, NbdRequestFailure } from './export.ts';
import type { NegotiatedSession } from './server-handshake.ts';
import { BASE_ALLOCATION_ID, MAX_PAYLOAD_BYTES } from './server-handshake.ts';
import type { ServerWire } from './server-wire.ts';
import {
  NBD_REQUEST_MAGIC, NBD_CMD_READ, NBD_CMD_WRITE, NBD_CMD_DISC, NBD_CMD_FLUSH, NBD_CMD_TRIM, NBD_CMD_CACHE,
  NBD_CMD_WRITE_ZEROES, NBD_CMD_BLOCK_STATUS, NBD_CMD_FLAG_REQ_ONE, NBD_STATE_HOLE, NBD_STATE_ZERO,
  NBD_EPERM, NBD_EIO, NBD_EINVAL, REQUEST_HEADER_BYTES,
} from './protocol.ts';
import {
  encodeSimpleReply, encodeOffsetDataHead, encodeOffsetHole, encodeBlockStatus, encodeErrorChunk,
} from './server-replies.ts';

/** Requests and read bytes in flight per connection before reading pauses. */
const MAX_REQUESTS_IN_FLIGHT = 64;
const MAX_BYTES_IN_FLIGHT = 64 << 20;
/** Block status answers are cut to this many extents; the client asks again for the rest. */
const MAX_STATUS_EXTENTS = 64 * 1024;
/** A write's payload is read and dropped in pieces of this size. */
const DISCARD_PIECE_BYTES = 1 << 20;

interface Request {
  readonly type: number;
  readonly flags: number;
  readonly cookie: Buffer;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

export class ServerSession {
  private readonly wire: ServerWire;
  private readonly exp: NbdExport;
  private readonly structured: boolean;
  private readonly baseAllocation: boolean;
  private readonly onFailure: (f: NbdRequestFailure) => void;
  private requestsInFlight = 0;
  private bytesInFlight = 0;
  private wake: (() => void) | null = null;
  private paused = false;

  constructor(wire: ServerWire, session: NegotiatedSession, onFailure: (f: NbdRequestFailure) => void) {
    this.wire = wire;
    this.exp = session.export;
    this.structured = session.structuredReplies;
    this.baseAllocation = session.baseAllocation;
    this.onFailure = onFailure;
  }

  /** Serves requests until the client disconnects (NBD_CMD_DISC or a closed socket). */
  async run(): Promise<void> {
    for (;;) {
      await this.waitForRoom();
      let header: Buffer;
      try {
        header = await this.wire.reader.readExact(REQUEST_HEADER_BYTES);
      } catch {
        return; // connection gone
      }
      if (header.readUInt32BE(0) !== NBD_REQUEST_MAGIC) { this.wire.destroy(); return; }
      const high = header.readUInt32BE(16);
      const req: Request = {
        flags: header.readUInt16BE(4),
        type: header.readUInt16BE(6),
        cookie: Buffer.from(header.subarray(8, 16)),
        // Offsets beyond 2^53 cannot be inside any export; they fail the range check below.
        offsetBytes: high >= 0x200000 ? Number.MAX_SAFE_INTEGER : high * 0x100000000 + header.readUInt32BE(20),
        lengthBytes: header.readUInt32BE(24),
      };
      if (req.type === NBD_CMD_DISC) {
        await this.allDone();
        this.wire.end();
        return;
      }
      if (req.type === NBD_CMD_WRITE) {
        if (!(await this.discardPayload(req.lengthBytes))) return;
        this.replyError(req, NBD_EPERM, 'the export is read-only');
        continue;
      }
      this.dispatch(req);
    }
  }

  private dispatch(req: Request): void {
    switch (req.type) {
      case NBD_CMD_READ:
        if (!this.checkRange(req, MAX_PAYLOAD_BYTES)) return;
        this.track(req.lengthBytes, () => this.read(req));
        return;
      case NBD_CMD_BLOCK_STATUS:
        if (!this.baseAllocation) { this.replyError(req, NBD_EINVAL, 'no meta context was negotiated'); return; }
        if (!this.checkRange(req, 0xffffffff)) return;
        this.track(0, () => this.blockStatus(req));
        return;
      case NBD_CMD_CACHE:
        if (!this.checkRange(req, 0xffffffff)) return;
        this.track(0, () => this.cache(req));
        return;
      case NBD_CMD_FLUSH:
        this.replyOk(req); // nothing is ever written, so there is nothing to flush
        return;
      case NBD_CMD_TRIM:
      case NBD_CMD_WRITE_ZEROES:
        this.replyError(req, NBD_EPERM, 'the export is read-only');
        return;
      default:
        this.replyError(req, NBD_EINVAL, `command ${req.type} is not supported`);
    }
  }

  private checkRange(req: Request, maxLengthBytes: number): boolean {
    if (req.lengthBytes === 0 || req.lengthBytes > maxLengthBytes || req.offsetBytes + req.lengthBytes > this.exp.sizeBytes) {
      this.replyError(req, NBD_EINVAL, `${req.lengthBytes} bytes at offset ${req.offsetBytes} are outside the export (${this.exp.sizeBytes} bytes, at most ${maxLengthBytes} per request)`);
      return false;
    }
    return true;
  }

  private track(bytes: number, work: () => Promise<void>): void {
    this.requestsInFlight++;
    this.bytesInFlight += bytes;
    void work().finally(() => {
      this.requestsInFlight--;
      this.bytesInFlight -= bytes;
      const wake = this.wake;
      this.wake = null;
      wake?.();
    });
  }

  private async waitForRoom(): Promise<void> {
    while (this.requestsInFlight >= MAX_REQUESTS_IN_FLIGHT || this.bytesInFlight >= MAX_BYTES_IN_FLIGHT || this.wire.queuedBytes >= MAX_BYTES_IN_FLIGHT) {
      if (!this.paused) { this.wire.pauseReading(); this.paused = true; }
      if (this.wire.queuedBytes >= MAX_BYTES_IN_FLIGHT) await this.wire.drained();
      else await new Promise<void>((resolve) => { this.wake = resolve; });
    }
    if (this.paused) { this.wire.resumeReading(); this.paused = false; }
  }

  private async allDone(): Promise<void> {
    while (this.requestsInFlight > 0) await new Promise<void>((resolve) => { this.wake = resolve; });
  }

  private async discardPayload(lengthBytes: number): Promise<boolean> {
    try {
      for (let left = lengthBytes; left > 0; left -= DISCARD_PIECE_BYTES) await this.wire.reader.readExact(Math.min(left, DISCARD_PIECE_BYTES));
      return true;
    } catch {
      return false;
    }
  }

  private async read(req: Request): Promise<void> {
    try {
      if (!this.structured) {
        const data = await this.exp.read(req.offsetBytes, req.lengthBytes);
        if (data.length !== req.lengthBytes) throw new Error(`export returned ${data.length} of ${req.lengthBytes} bytes`);
        this.wire.write(encodeSimpleReply(req.cookie, 0), data);
        return;
      }
      await this.structuredRead(req);
    } catch (error) {
      this.fail(req, 'read', error);
    }
  }

  /** Zero extents go out as OFFSET_HOLE chunks, the rest as OFFSET_DATA, read concurrently. */
  private async structuredRead(req: Request): Promise<void> {
    const extents = await this.exp.extents(req.offsetBytes, req.lengthBytes);
    if (!coversExactly(extents, req.offsetBytes, req.lengthBytes)) throw new Error('the export\'s extents do not cover the read');
    const pieces = await Promise.allSettled(extents.map(async (e) => {
      if (e.zero) return null;
      const data = await this.exp.read(e.offsetBytes, e.lengthBytes);
      if (data.length !== e.lengthBytes) throw new Error(`export returned ${data.length} of ${e.lengthBytes} bytes`);
      return data;
    }));
    const failed = pieces.findIndex((p) => p.status === 'rejected');
    if (failed >= 0) {
      const { offsetBytes } = extents[failed]!;
      this.fail(req, 'read', (pieces[failed] as PromiseRejectedResult).reason, offsetBytes);
      return;
    }
    const out: Buffer[] = [];
    extents.forEach((e, i) => {
      const done = i === extents.length - 1;
      const data = (pieces[i] as PromiseFulfilledResult<Buffer | null>).value;
      if (data) out.push(encodeOffsetDataHead(req.cookie, done, e.offsetBytes, e.lengthBytes), data);
      else out.push(encodeOffsetHole(req.cookie, done, e.offsetBytes, e.lengthBytes));
    });
    this.wire.write(...out);
  }

  private async blockStatus(req: Request): Promise<void> {
    try {
      const extents = await this.exp.extents(req.offsetBytes, req.lengthBytes);
      if (extents.length === 0 || extents[0]!.offsetBytes !== req.offsetBytes) throw new Error('the export\'s extents do not start at the request');
      const descriptors: { lengthBytes: number; flags: number }[] = [];
      for (const e of extents) {
        const flags = e.zero ? NBD_STATE_HOLE | NBD_STATE_ZERO : 0;
        const last = descriptors[descriptors.length - 1];
        if (last && last.flags === flags) last.lengthBytes += e.lengthBytes;
        else descriptors.push({ lengthBytes: e.lengthBytes, flags });
      }
      const limit = req.flags & NBD_CMD_FLAG_REQ_ONE ? 1 : MAX_STATUS_EXTENTS;
      this.wire.write(encodeBlockStatus(req.cookie, BASE_ALLOCATION_ID, descriptors.slice(0, limit)));
    } catch (error) {
      this.fail(req, 'block status', error);
    }
  }

  private async cache(req: Request): Promise<void> {
    try {
      await this.exp.prefetch?.(req.offsetBytes, req.lengthBytes);
      this.replyOk(req);
    } catch (error) {
      this.fail(req, 'cache', error);
    }
  }

  private fail(req: Request, op: NbdRequestFailure['op'], error: unknown, offsetBytes?: number): void {
    this.onFailure({ exportName: this.exp.name, op, offsetBytes: offsetBytes ?? req.offsetBytes, lengthBytes: req.lengthBytes, error });
    this.replyError(req, NBD_EIO, error instanceof Error ? error.message : String(error), offsetBytes);
  }

  private replyOk(req: Request): void {
    this.wire.write(encodeSimpleReply(req.cookie, 0));
  }

  /**
   * With structured replies, reads and block status must be answered in chunks, so errors
   * are an ERROR chunk (ERROR_OFFSET when it is known where the read failed); otherwise a
   * simple reply carries only the error number.
   */
  private replyError(req: Request, errno: number, message: string, offsetBytes?: number): void {
    if (this.structured) this.wire.write(encodeErrorChunk(req.cookie, errno, message, req.type === NBD_CMD_READ ? offsetBytes : undefined));
    else this.wire.write(encodeSimpleReply(req.cookie, errno));
  }
}

function coversExactly(extents: readonly { offsetBytes: number; lengthBytes: number }[], offsetBytes: number, lengthBytes: number): boolean {
  let at = offsetBytes;
  for (const e of extents) {
    if (e.offsetBytes !== at || e.lengthBytes <= 0) return false;
    at += e.lengthBytes;
  }
  return at === offsetBytes + lengthBytes;
}
