// The client side of the fixed newstyle handshake: structured replies (needed for holes
// and block status), meta contexts (base:allocation, qemu:dirty-bitmap:*), then NBD_OPT_GO
// with the export name. Each refusal becomes a one-line NBD_CONNECT error naming the
// server and what it refused; anything malformed is NBD_PROTOCOL.

import type { Socket } from 'node:net';
import { VmbakError } from '../core/index.ts';
import type { FrameReader } from './frame-reader.ts';
import {
  NBD_INIT_MAGIC, NBD_OPTS_MAGIC, NBD_OLDSTYLE_MAGIC, NBD_FLAG_FIXED_NEWSTYLE, NBD_FLAG_NO_ZEROES,
  NBD_FLAG_C_FIXED_NEWSTYLE, NBD_FLAG_C_NO_ZEROES, NBD_OPT_STRUCTURED_REPLY, NBD_OPT_SET_META_CONTEXT,
  NBD_OPT_GO, NBD_REP_ACK, NBD_REP_INFO, NBD_REP_META_CONTEXT, NBD_REP_FLAG_ERROR, NBD_REP_ERR_UNSUP,
  NBD_INFO_EXPORT, NBD_INFO_BLOCK_SIZE, NBD_DEFAULT_MAX_PAYLOAD_BYTES, OPTION_REPLY_HEADER_BYTES,
  encodeOption, decodeOptionReplyHeader, encodeGoData, encodeMetaContextData, describeOptionError, readUInt64,
} from './protocol.ts';

export interface NegotiatedExport {
  readonly sizeBytes: number;
  readonly transmissionFlags: number;
  readonly structuredReplies: boolean;
  readonly metaContexts: ReadonlyMap<string, number>;
  readonly minBlockBytes: number;
  readonly maxPayloadBytes: number;
}

export interface HandshakeOptions {
  readonly exportName: string;
  readonly metaContexts: readonly string[];
  readonly serverLabel: string;
}

interface OptionReply { readonly replyType: number; readonly data: Buffer }

export async function negotiate(socket: Socket, reader: FrameReader, opts: HandshakeOptions): Promise<NegotiatedExport> {
  const protocolError = (detail: string) => new VmbakError('NBD_PROTOCOL', { server: opts.serverLabel, detail });
  const refused = (what: string, reply: OptionReply) => new VmbakError('NBD_CONNECT', {
    server: opts.serverLabel,
    detail: `${what}: ${describeOptionError(reply.replyType)}${reply.data.length ? ` (${reply.data.toString('utf8')})` : ''}`,
  });

  const greeting = await reader.readExact(18);
  if (greeting.readBigUInt64BE(0) !== NBD_INIT_MAGIC) throw protocolError('not an NBD server (bad greeting)');
  const second = greeting.readBigUInt64BE(8);
  if (second === NBD_OLDSTYLE_MAGIC) throw protocolError('oldstyle negotiation is not supported');
  if (second !== NBD_OPTS_MAGIC) throw protocolError('bad newstyle magic');
  const serverFlags = greeting.readUInt16BE(16);
  if (!(serverFlags & NBD_FLAG_FIXED_NEWSTYLE)) throw protocolError('server does not offer fixed newstyle negotiation');
  const clientFlags = Buffer.allocUnsafe(4);
  clientFlags.writeUInt32BE(NBD_FLAG_C_FIXED_NEWSTYLE | (serverFlags & NBD_FLAG_NO_ZEROES ? NBD_FLAG_C_NO_ZEROES : 0), 0);
  socket.write(clientFlags);

  const readReply = async (option: number): Promise<OptionReply> => {
    const header = decodeOptionReplyHeader(await reader.readExact(OPTION_REPLY_HEADER_BYTES));
    if (!header) throw protocolError('bad option reply magic');
    if (header.option !== option) throw protocolError(`reply to option ${header.option}, expected ${option}`);
    if (header.lengthBytes > 64 * 1024 * 1024) throw protocolError(`option reply of ${header.lengthBytes} bytes`);
    return { replyType: header.replyType, data: await reader.readExact(header.lengthBytes) };
  };

  socket.write(encodeOption(NBD_OPT_STRUCTURED_REPLY));
  const sr = await readReply(NBD_OPT_STRUCTURED_REPLY);
  const structuredReplies = sr.replyType === NBD_REP_ACK;
  if (!structuredReplies && !(sr.replyType & NBD_REP_FLAG_ERROR)) throw protocolError(`unexpected reply ${sr.replyType} to structured reply option`);

  const metaContexts = new Map<string, number>();
  if (opts.metaContexts.length > 0) {
    if (!structuredReplies) throw refused('block status needs structured replies', sr);
    socket.write(encodeOption(NBD_OPT_SET_META_CONTEXT, encodeMetaContextData(opts.exportName, opts.metaContexts)));
    for (;;) {
      const reply = await readReply(NBD_OPT_SET_META_CONTEXT);
      if (reply.replyType === NBD_REP_ACK) break;
      if (reply.replyType & NBD_REP_FLAG_ERROR) throw refused(`meta contexts ${opts.metaContexts.join(', ')}`, reply);
      if (reply.replyType !== NBD_REP_META_CONTEXT || reply.data.length < 4) throw protocolError('bad meta context reply');
      metaContexts.set(reply.data.toString('utf8', 4), reply.data.readUInt32BE(0));
    }
  }

  socket.write(encodeOption(NBD_OPT_GO, encodeGoData(opts.exportName, [NBD_INFO_EXPORT, NBD_INFO_BLOCK_SIZE])));
  let sizeBytes = -1;
  let transmissionFlags = 0;
  let minBlockBytes = 1;
  let maxPayloadBytes = NBD_DEFAULT_MAX_PAYLOAD_BYTES;
  for (;;) {
    const reply = await readReply(NBD_OPT_GO);
    if (reply.replyType === NBD_REP_ACK) break;
    if (reply.replyType === NBD_REP_ERR_UNSUP) throw refused('NBD_OPT_GO (server too old)', reply);
    if (reply.replyType & NBD_REP_FLAG_ERROR) throw refused(`export '${opts.exportName}'`, reply);
    if (reply.replyType !== NBD_REP_INFO || reply.data.length < 2) continue;
    const infoType = reply.data.readUInt16BE(0);
    if (infoType === NBD_INFO_EXPORT && reply.data.length >= 12) {
      sizeBytes = readUInt64(reply.data, 2);
      transmissionFlags = reply.data.readUInt16BE(10);
    } else if (infoType === NBD_INFO_BLOCK_SIZE && reply.data.length >= 14) {
      minBlockBytes = reply.data.readUInt32BE(2);
      maxPayloadBytes = reply.data.readUInt32BE(10);
    }
  }
  if (sizeBytes < 0) throw protocolError('NBD_OPT_GO succeeded without export size');
  if (!Number.isSafeInteger(sizeBytes)) throw protocolError(`export size ${sizeBytes} is too large`);
  return { sizeBytes, transmissionFlags, structuredReplies, metaContexts, minBlockBytes, maxPayloadBytes };
}
