// NBD wire constants and the fixed-size message encodings, kept apart from any socket so
// that the client here and the later NBD server (instant recovery) share one definition.
// Numbers are from the NBD protocol spec (NetworkBlockDevice/nbd, doc/proto.md); every
// integer on the wire is big-endian.

/** "NBDMAGIC": first 8 bytes the server sends. */
export const NBD_INIT_MAGIC = 0x4e42444d41474943n;
/** "IHAVEOPT": newstyle negotiation marker, also prefixes every option the client sends. */
export const NBD_OPTS_MAGIC = 0x49484156454f5054n;
/** Oldstyle servers send this instead of IHAVEOPT; we do not speak oldstyle. */
export const NBD_OLDSTYLE_MAGIC = 0x00420281861253n;
export const NBD_OPT_REPLY_MAGIC = 0x0003e889045565a9n;

export const NBD_REQUEST_MAGIC = 0x25609513;
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;
export const NBD_STRUCTURED_REPLY_MAGIC = 0x668e33ef;

// Handshake flags (server, u16) and client flags (u32).
export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_NO_ZEROES = 1 << 1;
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_C_NO_ZEROES = 1 << 1;

// Transmission flags (u16, per export).
export const NBD_FLAG_HAS_FLAGS = 1 << 0;
export const NBD_FLAG_READ_ONLY = 1 << 1;
export const NBD_FLAG_SEND_FLUSH = 1 << 2;
export const NBD_FLAG_SEND_DF = 1 << 7;
export const NBD_FLAG_CAN_MULTI_CONN = 1 << 8;
export const NBD_FLAG_SEND_CACHE = 1 << 10;

// Options.
export const NBD_OPT_EXPORT_NAME = 1;
export const NBD_OPT_ABORT = 2;
export const NBD_OPT_LIST = 3;
export const NBD_OPT_STARTTLS = 5;
export const NBD_OPT_INFO = 6;
export const NBD_OPT_GO = 7;
export const NBD_OPT_STRUCTURED_REPLY = 8;
export const NBD_OPT_LIST_META_CONTEXT = 9;
export const NBD_OPT_SET_META_CONTEXT = 10;

// Option reply types; bit 31 marks an error.
export const NBD_REP_ACK = 1;
export const NBD_REP_SERVER = 2;
export const NBD_REP_INFO = 3;
export const NBD_REP_META_CONTEXT = 4;
export const NBD_REP_FLAG_ERROR = 0x80000000;
export const NBD_REP_ERR_UNSUP = NBD_REP_FLAG_ERROR + 1;
export const NBD_REP_ERR_POLICY = NBD_REP_FLAG_ERROR + 2;
export const NBD_REP_ERR_INVALID = NBD_REP_FLAG_ERROR + 3;
export const NBD_REP_ERR_PLATFORM = NBD_REP_FLAG_ERROR + 4;
export const NBD_REP_ERR_TLS_REQD = NBD_REP_FLAG_ERROR + 5;
export const NBD_REP_ERR_UNKNOWN = NBD_REP_FLAG_ERROR + 6;
export const NBD_REP_ERR_SHUTDOWN = NBD_REP_FLAG_ERROR + 7;
export const NBD_REP_ERR_BLOCK_SIZE_REQD = NBD_REP_FLAG_ERROR + 8;
export const NBD_REP_ERR_TOO_BIG = NBD_REP_FLAG_ERROR + 9;

const OPTION_ERROR_NAMES: Record<number, string> = {
  [NBD_REP_ERR_UNSUP]: 'option not supported',
  [NBD_REP_ERR_POLICY]: 'refused by server policy',
  [NBD_REP_ERR_INVALID]: 'invalid option',
  [NBD_REP_ERR_PLATFORM]: 'not supported on this platform',
  [NBD_REP_ERR_TLS_REQD]: 'server requires TLS',
  [NBD_REP_ERR_UNKNOWN]: 'no such export',
  [NBD_REP_ERR_SHUTDOWN]: 'server is shutting down',
  [NBD_REP_ERR_BLOCK_SIZE_REQD]: 'server requires block size negotiation',
  [NBD_REP_ERR_TOO_BIG]: 'request too big',
};

export function describeOptionError(replyType: number): string {
  return OPTION_ERROR_NAMES[replyType] ?? `error reply 0x${replyType.toString(16)}`;
}

// NBD_INFO_* items inside NBD_REP_INFO.
export const NBD_INFO_EXPORT = 0;
export const NBD_INFO_NAME = 1;
export const NBD_INFO_DESCRIPTION = 2;
export const NBD_INFO_BLOCK_SIZE = 3;

// Commands and command flags.
export const NBD_CMD_READ = 0;
export const NBD_CMD_WRITE = 1;
export const NBD_CMD_DISC = 2;
export const NBD_CMD_FLUSH = 3;
export const NBD_CMD_TRIM = 4;
export const NBD_CMD_CACHE = 5;
export const NBD_CMD_WRITE_ZEROES = 6;
export const NBD_CMD_BLOCK_STATUS = 7;
export const NBD_CMD_FLAG_DF = 1 << 2;
export const NBD_CMD_FLAG_REQ_ONE = 1 << 3;

// Structured reply flags and chunk types; bit 15 of a type marks an error chunk.
export const NBD_REPLY_FLAG_DONE = 1 << 0;
export const NBD_REPLY_TYPE_NONE = 0;
export const NBD_REPLY_TYPE_OFFSET_DATA = 1;
export const NBD_REPLY_TYPE_OFFSET_HOLE = 2;
export const NBD_REPLY_TYPE_BLOCK_STATUS = 5;
export const NBD_REPLY_TYPE_ERROR_BIT = 1 << 15;
export const NBD_REPLY_TYPE_ERROR = NBD_REPLY_TYPE_ERROR_BIT + 1;
export const NBD_REPLY_TYPE_ERROR_OFFSET = NBD_REPLY_TYPE_ERROR_BIT + 2;

// Block status flags of the base:allocation context (a dirty bitmap uses bit 0 = dirty).
export const NBD_STATE_HOLE = 1 << 0;
export const NBD_STATE_ZERO = 1 << 1;
export const NBD_STATE_DIRTY = 1 << 0;
export const BASE_ALLOCATION = 'base:allocation';

// Error numbers carried in replies (not the host's errno values).
export const NBD_EPERM = 1;
export const NBD_EIO = 5;
export const NBD_EINVAL = 22;
export const NBD_EOVERFLOW = 75;
export const NBD_ESHUTDOWN = 108;
const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 5: 'EIO', 12: 'ENOMEM', 22: 'EINVAL', 28: 'ENOSPC', 75: 'EOVERFLOW',
  95: 'ENOTSUP', 108: 'ESHUTDOWN',
};

export function describeNbdErrno(errno: number): string {
  return ERRNO_NAMES[errno] ?? `error ${errno}`;
}

/** The protocol's own limit on a request's length field (u32). */
export const NBD_MAX_REQUEST_LENGTH = 0xffffffff;
/** Servers without NBD_INFO_BLOCK_SIZE accept payloads up to 32 MiB (the spec's default). */
export const NBD_DEFAULT_MAX_PAYLOAD_BYTES = 32 * 1024 * 1024;

export const OPTION_HEADER_BYTES = 16;
export const OPTION_REPLY_HEADER_BYTES = 20;
export const REQUEST_HEADER_BYTES = 28;
export const SIMPLE_REPLY_HEADER_BYTES = 16;
export const STRUCTURED_REPLY_HEADER_BYTES = 20;

/** C: IHAVEOPT (u64), option (u32), data length (u32), data. */
export function encodeOption(option: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const msg = Buffer.allocUnsafe(OPTION_HEADER_BYTES + data.length);
  msg.writeBigUInt64BE(NBD_OPTS_MAGIC, 0);
  msg.writeUInt32BE(option, 8);
  msg.writeUInt32BE(data.length, 12);
  data.copy(msg, OPTION_HEADER_BYTES);
  return msg;
}

export interface OptionReplyHeader {
  readonly option: number;
  readonly replyType: number;
  readonly lengthBytes: number;
}

/** S: reply magic (u64), option echoed (u32), reply type (u32), data length (u32). */
export function decodeOptionReplyHeader(header: Buffer): OptionReplyHeader | null {
  if (header.readBigUInt64BE(0) !== NBD_OPT_REPLY_MAGIC) return null;
  return { option: header.readUInt32BE(8), replyType: header.readUInt32BE(12), lengthBytes: header.readUInt32BE(16) };
}

/** A u32 length followed by the UTF-8 bytes: how names travel inside option data. */
export function encodeString32(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const out = Buffer.allocUnsafe(4 + bytes.length);
  out.writeUInt32BE(bytes.length, 0);
  bytes.copy(out, 4);
  return out;
}

/** NBD_OPT_GO / NBD_OPT_INFO data: export name (u32 + bytes), info count (u16), info types (u16 each). */
export function encodeGoData(exportName: string, infoTypes: readonly number[]): Buffer {
  const infos = Buffer.allocUnsafe(2 + 2 * infoTypes.length);
  infos.writeUInt16BE(infoTypes.length, 0);
  infoTypes.forEach((t, i) => infos.writeUInt16BE(t, 2 + 2 * i));
  return Buffer.concat([encodeString32(exportName), infos]);
}

/** NBD_OPT_SET_META_CONTEXT data: export name, query count (u32), each query as u32 + bytes. */
export function encodeMetaContextData(exportName: string, queries: readonly string[]): Buffer {
  const count = Buffer.allocUnsafe(4);
  count.writeUInt32BE(queries.length, 0);
  return Buffer.concat([encodeString32(exportName), count, ...queries.map(encodeString32)]);
}

/**
 * C: request magic (u32), command flags (u16), type (u16), cookie (u64), offset (u64),
 * length (u32). Written into `out` so a batch of requests can share one buffer.
 */
export function writeRequestHeader(
  out: Buffer, at: number, type: number, flags: number, cookie: number, offsetBytes: number, lengthBytes: number,
): void {
  out.writeUInt32BE(NBD_REQUEST_MAGIC, at);
  out.writeUInt16BE(flags, at + 4);
  out.writeUInt16BE(type, at + 6);
  // Cookies and offsets stay below 2^53, so two u32 halves avoid BigInt on the hot path.
  out.writeUInt32BE(Math.floor(cookie / 0x100000000), at + 8);
  out.writeUInt32BE(cookie >>> 0, at + 12);
  out.writeUInt32BE(Math.floor(offsetBytes / 0x100000000), at + 16);
  out.writeUInt32BE(offsetBytes >>> 0, at + 20);
  out.writeUInt32BE(lengthBytes, at + 24);
}

/** Reads a u64 that must fit a JS number (offsets, sizes, our own cookies). */
export function readUInt64(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * 0x100000000 + buf.readUInt32BE(at + 4);
}

/** Writes a u64 from a JS number (below 2^53), as two u32 halves. */
export function writeUInt64(out: Buffer, at: number, value: number): void {
  out.writeUInt32BE(Math.floor(value / 0x100000000), at);
  out.writeUInt32BE(value >>> 0, at + 4);
}
