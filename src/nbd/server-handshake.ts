// The server side of the fixed newstyle handshake: greeting, client flags, then options until
// the client picks an export (NBD_OPT_GO or the old NBD_OPT_EXPORT_NAME) or gives up. Options
// served: LIST, INFO, GO, STRUCTURED_REPLY, LIST/SET_META_CONTEXT (base:allocation), ABORT,
// STARTTLS (when a TLS context is configured; then it is required before anything else);
// every other option is answered NBD_REP_ERR_UNSUP.

import type { NbdExport } from './export.ts';
import type { ServerWire } from './server-wire.ts';
import {
  NBD_INIT_MAGIC, NBD_OPTS_MAGIC, NBD_FLAG_FIXED_NEWSTYLE, NBD_FLAG_NO_ZEROES, NBD_FLAG_C_FIXED_NEWSTYLE, NBD_FLAG_C_NO_ZEROES,
  NBD_OPT_EXPORT_NAME, NBD_OPT_ABORT, NBD_OPT_LIST, NBD_OPT_STARTTLS, NBD_OPT_INFO, NBD_OPT_GO, NBD_OPT_STRUCTURED_REPLY,
  NBD_OPT_LIST_META_CONTEXT, NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK, NBD_REP_SERVER, NBD_REP_INFO, NBD_REP_META_CONTEXT,
  NBD_REP_ERR_UNSUP, NBD_REP_ERR_INVALID, NBD_REP_ERR_UNKNOWN, NBD_REP_ERR_TLS_REQD, NBD_REP_ERR_TOO_BIG,
  NBD_INFO_NAME, NBD_INFO_DESCRIPTION, NBD_INFO_BLOCK_SIZE, NBD_FLAG_HAS_FLAGS, NBD_FLAG_READ_ONLY, NBD_FLAG_CAN_MULTI_CONN,
  NBD_FLAG_SEND_CACHE, NBD_DEFAULT_MAX_PAYLOAD_BYTES, BASE_ALLOCATION, OPTION_HEADER_BYTES, writeUInt64,
} from './protocol.ts';
import {
  encodeOptionReply, encodeInfoExport, encodeInfoText, encodeInfoBlockSize, encodeServerEntry, encodeMetaContextEntry,
} from './server-replies.ts';

/** Every export is read-only and reads the same data over any connection (so clients may open several). */
export const TRANSMISSION_FLAGS = NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_CAN_MULTI_CONN | NBD_FLAG_SEND_CACHE;
/** The largest read served in one request: the spec's default, so clients need no negotiation. */
export const MAX_PAYLOAD_BYTES = NBD_DEFAULT_MAX_PAYLOAD_BYTES;
/** The id base:allocation gets on every connection. */
export const BASE_ALLOCATION_ID = 1;
/** Option data is names and short lists; more is a broken or hostile client. */
const MAX_OPTION_DATA_BYTES = 64 * 1024;

export interface ExportCatalog {
  /** '' is the default export. */
  find(name: string): NbdExport | undefined;
  list(): readonly NbdExport[];
}

export interface NegotiatedSession {
  readonly export: NbdExport;
  readonly structuredReplies: boolean;
  /** True when the client selected base:allocation (block status is then allowed). */
  readonly baseAllocation: boolean;
}

export class HandshakeError extends Error {}

export async function negotiateWithClient(wire: ServerWire, catalog: ExportCatalog): Promise<NegotiatedSession | null> {
  const greeting = Buffer.allocUnsafe(18);
  greeting.writeBigUInt64BE(NBD_INIT_MAGIC, 0);
  greeting.writeBigUInt64BE(NBD_OPTS_MAGIC, 8);
  greeting.writeUInt16BE(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES, 16);
  wire.write(greeting);
  const clientFlags = (await wire.reader.readExact(4)).readUInt32BE(0);
  if (clientFlags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) throw new HandshakeError(`unknown client flags 0x${clientFlags.toString(16)}`);
  const state = new OptionState(wire, catalog, (clientFlags & NBD_FLAG_C_NO_ZEROES) !== 0);
  for (;;) {
    const header = await wire.reader.readExact(OPTION_HEADER_BYTES);
    if (header.readBigUInt64BE(0) !== NBD_OPTS_MAGIC) throw new HandshakeError('bad option magic');
    const option = header.readUInt32BE(8);
    const dataBytes = header.readUInt32BE(12);
    if (dataBytes > MAX_OPTION_DATA_BYTES) {
      // The data must be consumed to stay in step; too much of it ends the connection instead.
      if (dataBytes > 16 * MAX_OPTION_DATA_BYTES) throw new HandshakeError(`option ${option} with ${dataBytes} bytes of data`);
      await wire.reader.readExact(dataBytes);
      state.reply(option, NBD_REP_ERR_TOO_BIG, 'option data too long');
      continue;
    }
    const outcome = await state.handle(option, await wire.reader.readExact(dataBytes));
    if (outcome !== 'continue') return outcome;
  }
}

/** What the options so far have settled, and the handling of each option. */
class OptionState {
  private structuredReplies = false;
  /** base:allocation selected by SET_META_CONTEXT, for the export named there. */
  private metaContextExport: string | null = null;
  private tlsDone = false;
  private readonly wire: ServerWire;
  private readonly catalog: ExportCatalog;
  private readonly noZeroes: boolean;

  constructor(wire: ServerWire, catalog: ExportCatalog, noZeroes: boolean) {
    this.wire = wire;
    this.catalog = catalog;
    this.noZeroes = noZeroes;
  }

  reply(option: number, replyType: number, data: Buffer | string = Buffer.alloc(0)): void {
    this.wire.write(encodeOptionReply(option, replyType, typeof data === 'string' ? Buffer.from(data, 'utf8') : data));
  }

  async handle(option: number, data: Buffer): Promise<NegotiatedSession | null | 'continue'> {
    if (this.wire.tlsAvailable && !this.tlsDone && option !== NBD_OPT_STARTTLS && option !== NBD_OPT_ABORT) {
      if (option === NBD_OPT_EXPORT_NAME) throw new HandshakeError('NBD_OPT_EXPORT_NAME before STARTTLS on a TLS-only server');
      this.reply(option, NBD_REP_ERR_TLS_REQD, 'this server requires TLS (NBD_OPT_STARTTLS)');
      return 'continue';
    }
    switch (option) {
      case NBD_OPT_ABORT:
        this.reply(option, NBD_REP_ACK);
        return null;
      case NBD_OPT_EXPORT_NAME:
        return this.exportName(data);
      case NBD_OPT_LIST:
        if (data.length > 0) { this.reply(option, NBD_REP_ERR_INVALID, 'NBD_OPT_LIST takes no data'); return 'continue'; }
        for (const e of this.catalog.list()) this.reply(option, NBD_REP_SERVER, encodeServerEntry(e.name, e.description));
        this.reply(option, NBD_REP_ACK);
        return 'continue';
      case NBD_OPT_STARTTLS:
        return this.startTls(data);
      case NBD_OPT_INFO:
      case NBD_OPT_GO:
        return this.infoOrGo(option, data);
      case NBD_OPT_STRUCTURED_REPLY:
        if (data.length > 0) { this.reply(option, NBD_REP_ERR_INVALID, 'NBD_OPT_STRUCTURED_REPLY takes no data'); return 'continue'; }
        this.structuredReplies = true;
        this.reply(option, NBD_REP_ACK);
        return 'continue';
      case NBD_OPT_LIST_META_CONTEXT:
      case NBD_OPT_SET_META_CONTEXT:
        this.metaContext(option, data);
        return 'continue';
      default:
        this.reply(option, NBD_REP_ERR_UNSUP, `option ${option} is not supported`);
        return 'continue';
    }
  }

  private async startTls(data: Buffer): Promise<'continue'> {
    if (!this.wire.tlsAvailable) { this.reply(NBD_OPT_STARTTLS, NBD_REP_ERR_UNSUP, 'this server has no TLS certificate'); return 'continue'; }
    if (data.length > 0) { this.reply(NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID, 'NBD_OPT_STARTTLS takes no data'); return 'continue'; }
    if (this.tlsDone) { this.reply(NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID, 'TLS is already on'); return 'continue'; }
    this.reply(NBD_OPT_STARTTLS, NBD_REP_ACK);
    await this.wire.upgradeToTls();
    this.tlsDone = true;
    return 'continue';
  }

  /** The old way to pick an export: no reply on failure, only a closed connection. */
  private exportName(data: Buffer): NegotiatedSession {
    const exp = this.catalog.find(data.toString('utf8'));
    if (!exp) throw new HandshakeError(`no export named '${data.toString('utf8')}'`);
    const out = Buffer.alloc(10 + (this.noZeroes ? 0 : 124));
    writeUInt64(out, 0, exp.sizeBytes);
    out.writeUInt16BE(TRANSMISSION_FLAGS, 8);
    this.wire.write(out);
    return { export: exp, structuredReplies: this.structuredReplies, baseAllocation: this.metaContextExport === exp.name };
  }

  /** Data: export name (u32 + bytes), number of info requests (u16), info types (u16 each). */
  private infoOrGo(option: number, data: Buffer): NegotiatedSession | 'continue' {
    const name = readString32(data, 0);
    if (!name || data.length < name.end + 2 || data.length !== name.end + 2 + 2 * data.readUInt16BE(name.end)) {
      this.reply(option, NBD_REP_ERR_INVALID, 'malformed NBD_OPT_INFO/GO data');
      return 'continue';
    }
    const exp = this.catalog.find(name.text);
    if (!exp) {
      this.reply(option, NBD_REP_ERR_UNKNOWN, `no export named '${name.text}' (exports: ${this.catalog.list().map((e) => e.name).join(', ')})`);
      return 'continue';
    }
    const requested = new Set<number>();
    for (let i = 0; i < data.readUInt16BE(name.end); i++) requested.add(data.readUInt16BE(name.end + 2 + 2 * i));
    this.reply(option, NBD_REP_INFO, encodeInfoExport(exp.sizeBytes, TRANSMISSION_FLAGS));
    if (requested.has(NBD_INFO_NAME)) this.reply(option, NBD_REP_INFO, encodeInfoText(NBD_INFO_NAME, exp.name));
    if (requested.has(NBD_INFO_DESCRIPTION) && exp.description) this.reply(option, NBD_REP_INFO, encodeInfoText(NBD_INFO_DESCRIPTION, exp.description));
    if (requested.has(NBD_INFO_BLOCK_SIZE)) {
      this.reply(option, NBD_REP_INFO, encodeInfoBlockSize(1, Math.min(exp.preferredBlockBytes ?? 4096, MAX_PAYLOAD_BYTES), MAX_PAYLOAD_BYTES));
    }
    this.reply(option, NBD_REP_ACK);
    if (option === NBD_OPT_INFO) return 'continue';
    // Meta contexts chosen for another export do not carry over to this one.
    return { export: exp, structuredReplies: this.structuredReplies, baseAllocation: this.metaContextExport === exp.name };
  }

  /** Data: export name (u32 + bytes), number of queries (u32), each query (u32 + bytes). */
  private metaContext(option: number, data: Buffer): void {
    if (option === NBD_OPT_SET_META_CONTEXT && !this.structuredReplies) {
      this.reply(option, NBD_REP_ERR_INVALID, 'meta contexts need structured replies first');
      return;
    }
    const name = readString32(data, 0);
    if (!name || data.length < name.end + 4) { this.reply(option, NBD_REP_ERR_INVALID, 'malformed meta context data'); return; }
    const count = data.readUInt32BE(name.end);
    const queries: string[] = [];
    let at = name.end + 4;
    for (let i = 0; i < count; i++) {
      const q = readString32(data, at);
      if (!q) { this.reply(option, NBD_REP_ERR_INVALID, 'malformed meta context query'); return; }
      queries.push(q.text);
      at = q.end;
    }
    if (at !== data.length) { this.reply(option, NBD_REP_ERR_INVALID, 'trailing meta context data'); return; }
    const exp = this.catalog.find(name.text);
    if (!exp) { this.reply(option, NBD_REP_ERR_UNKNOWN, `no export named '${name.text}'`); return; }
    // An empty list asks for every context when listing, and selects none when setting.
    const wanted = queries.some((q) => q === BASE_ALLOCATION || q === 'base:') || (count === 0 && option === NBD_OPT_LIST_META_CONTEXT);
    if (option === NBD_OPT_SET_META_CONTEXT) this.metaContextExport = wanted ? exp.name : null;
    if (wanted) this.reply(option, NBD_REP_META_CONTEXT, encodeMetaContextEntry(option === NBD_OPT_SET_META_CONTEXT ? BASE_ALLOCATION_ID : 0, BASE_ALLOCATION));
    this.reply(option, NBD_REP_ACK);
  }
}

function readString32(data: Buffer, at: number): { text: string; end: number } | null {
  if (data.length < at + 4) return null;
  const len = data.readUInt32BE(at);
  if (data.length < at + 4 + len) return null;
  return { text: data.toString('utf8', at + 4, at + 4 + len), end: at + 4 + len };
}
