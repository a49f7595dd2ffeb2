// Encodings of what an NBD server sends: option replies during the handshake, and simple
// replies and structured reply chunks during transmission. Field layouts follow the NBD
// protocol spec (doc/proto.md); every integer is big-endian. The cookie is echoed as the
// 8 bytes the client sent, never interpreted.

import {
  NBD_OPT_REPLY_MAGIC, NBD_SIMPLE_REPLY_MAGIC, NBD_STRUCTURED_REPLY_MAGIC, NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_OFFSET_DATA, NBD_REPLY_TYPE_OFFSET_HOLE, NBD_REPLY_TYPE_BLOCK_STATUS, NBD_REPLY_TYPE_ERROR,
  NBD_REPLY_TYPE_ERROR_OFFSET, NBD_INFO_EXPORT, NBD_INFO_NAME, NBD_INFO_DESCRIPTION, NBD_INFO_BLOCK_SIZE,
  OPTION_REPLY_HEADER_BYTES, SIMPLE_REPLY_HEADER_BYTES, STRUCTURED_REPLY_HEADER_BYTES, writeUInt64,
} from './protocol.ts';

/** Error messages in replies are u16-length strings; long ones are cut. */
const MAX_MESSAGE_BYTES = 4096;

/** S: reply magic (u64), option (u32), reply type (u32), data length (u32), data. */
export function encodeOptionReply(option: number, replyType: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(OPTION_REPLY_HEADER_BYTES + data.length);
  out.writeBigUInt64BE(NBD_OPT_REPLY_MAGIC, 0);
  out.writeUInt32BE(option, 8);
  out.writeUInt32BE(replyType, 12);
  out.writeUInt32BE(data.length, 16);
  data.copy(out, OPTION_REPLY_HEADER_BYTES);
  return out;
}

/** NBD_INFO_EXPORT: type (u16), size (u64), transmission flags (u16). */
export function encodeInfoExport(sizeBytes: number, transmissionFlags: number): Buffer {
  const out = Buffer.allocUnsafe(12);
  out.writeUInt16BE(NBD_INFO_EXPORT, 0);
  writeUInt64(out, 2, sizeBytes);
  out.writeUInt16BE(transmissionFlags, 10);
  return out;
}

/** NBD_INFO_NAME / NBD_INFO_DESCRIPTION: type (u16), then the text to the end. */
export function encodeInfoText(type: typeof NBD_INFO_NAME | typeof NBD_INFO_DESCRIPTION, text: string): Buffer {
  const head = Buffer.allocUnsafe(2);
  head.writeUInt16BE(type, 0);
  return Buffer.concat([head, Buffer.from(text, 'utf8')]);
}

/** NBD_INFO_BLOCK_SIZE: type (u16), minimum, preferred, maximum payload (u32 each). */
export function encodeInfoBlockSize(minBytes: number, preferredBytes: number, maxPayloadBytes: number): Buffer {
  const out = Buffer.allocUnsafe(14);
  out.writeUInt16BE(NBD_INFO_BLOCK_SIZE, 0);
  out.writeUInt32BE(minBytes, 2);
  out.writeUInt32BE(preferredBytes, 6);
  out.writeUInt32BE(maxPayloadBytes, 10);
  return out;
}

/** NBD_REP_SERVER: name length (u32), name, then an optional description to the end. */
export function encodeServerEntry(name: string, description = ''): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(nameBytes.length, 0);
  return Buffer.concat([head, nameBytes, Buffer.from(description, 'utf8')]);
}

/** NBD_REP_META_CONTEXT: context id (u32), then the context's name to the end. */
export function encodeMetaContextEntry(contextId: number, name: string): Buffer {
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(contextId, 0);
  return Buffer.concat([head, Buffer.from(name, 'utf8')]);
}

/** Simple reply: magic (u32), error (u32), cookie (8 bytes); READ data follows on success. */
export function encodeSimpleReply(cookie: Buffer, errno: number): Buffer {
  const out = Buffer.allocUnsafe(SIMPLE_REPLY_HEADER_BYTES);
  out.writeUInt32BE(NBD_SIMPLE_REPLY_MAGIC, 0);
  out.writeUInt32BE(errno, 4);
  cookie.copy(out, 8);
  return out;
}

/** Structured chunk header: magic (u32), flags (u16), type (u16), cookie (8 bytes), payload length (u32). */
function structuredHeader(out: Buffer, cookie: Buffer, done: boolean, type: number, payloadBytes: number): void {
  out.writeUInt32BE(NBD_STRUCTURED_REPLY_MAGIC, 0);
  out.writeUInt16BE(done ? NBD_REPLY_FLAG_DONE : 0, 4);
  out.writeUInt16BE(type, 6);
  cookie.copy(out, 8);
  out.writeUInt32BE(payloadBytes, 16);
}

/** OFFSET_DATA up to the data: header, then offset (u64); the caller sends dataBytes of data after it. */
export function encodeOffsetDataHead(cookie: Buffer, done: boolean, offsetBytes: number, dataBytes: number): Buffer {
  const out = Buffer.allocUnsafe(STRUCTURED_REPLY_HEADER_BYTES + 8);
  structuredHeader(out, cookie, done, NBD_REPLY_TYPE_OFFSET_DATA, 8 + dataBytes);
  writeUInt64(out, STRUCTURED_REPLY_HEADER_BYTES, offsetBytes);
  return out;
}

/** OFFSET_HOLE: header, offset (u64), hole size (u32); the range reads as zeros. */
export function encodeOffsetHole(cookie: Buffer, done: boolean, offsetBytes: number, holeBytes: number): Buffer {
  const out = Buffer.allocUnsafe(STRUCTURED_REPLY_HEADER_BYTES + 12);
  structuredHeader(out, cookie, done, NBD_REPLY_TYPE_OFFSET_HOLE, 12);
  writeUInt64(out, STRUCTURED_REPLY_HEADER_BYTES, offsetBytes);
  out.writeUInt32BE(holeBytes, STRUCTURED_REPLY_HEADER_BYTES + 8);
  return out;
}

/** BLOCK_STATUS: header, context id (u32), then per extent its length (u32) and flags (u32). */
export function encodeBlockStatus(cookie: Buffer, contextId: number, extents: readonly { lengthBytes: number; flags: number }[]): Buffer {
  const payloadBytes = 4 + 8 * extents.length;
  const out = Buffer.allocUnsafe(STRUCTURED_REPLY_HEADER_BYTES + payloadBytes);
  structuredHeader(out, cookie, true, NBD_REPLY_TYPE_BLOCK_STATUS, payloadBytes);
  out.writeUInt32BE(contextId, STRUCTURED_REPLY_HEADER_BYTES);
  extents.forEach((e, i) => {
    out.writeUInt32BE(e.lengthBytes, STRUCTURED_REPLY_HEADER_BYTES + 4 + 8 * i);
    out.writeUInt32BE(e.flags, STRUCTURED_REPLY_HEADER_BYTES + 8 + 8 * i);
  });
  return out;
}

/**
 * ERROR: header, error (u32), message length (u16), message; ERROR_OFFSET adds the offset
 * (u64) the error applies to. Always the last chunk of its reply here (DONE).
 */
export function encodeErrorChunk(cookie: Buffer, errno: number, message: string, offsetBytes?: number): Buffer {
  let text = Buffer.from(message, 'utf8');
  if (text.length > MAX_MESSAGE_BYTES) text = text.subarray(0, MAX_MESSAGE_BYTES);
  const payloadBytes = 6 + text.length + (offsetBytes === undefined ? 0 : 8);
  const out = Buffer.allocUnsafe(STRUCTURED_REPLY_HEADER_BYTES + payloadBytes);
  structuredHeader(out, cookie, true, offsetBytes === undefined ? NBD_REPLY_TYPE_ERROR : NBD_REPLY_TYPE_ERROR_OFFSET, payloadBytes);
  out.writeUInt32BE(errno, STRUCTURED_REPLY_HEADER_BYTES);
  out.writeUInt16BE(text.length, STRUCTURED_REPLY_HEADER_BYTES + 4);
  text.copy(out, STRUCTURED_REPLY_HEADER_BYTES + 6);
  if (offsetBytes !== undefined) writeUInt64(out, STRUCTURED_REPLY_HEADER_BYTES + 6 + text.length, offsetBytes);
  return out;
}
