// Maps basic-ftp failures to vmbak's target errors. FTP replies: 452/552 storage exceeded,
// and vsftpd's 451 "Failure writing to local file" on an upload (how it reports ENOSPC)
// → TARGET_FULL; 530/532 not logged in and 553 name not allowed → TARGET_DENIED; refused,
// unknown host, timeouts, a connection reset or ended mid-operation → TARGET_UNREACHABLE; a certificate the trust store does not
// vouch for → TARGET_DENIED with a TLS hint (retrying cannot help); the rest → TARGET_IO.

import { VmbakError, describeError } from '../core/index.ts';

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT']);
const LOST = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
// basic-ftp's words for a control connection the server ended.
const LOST_MESSAGE = /Server closed connection unexpectedly|Server sent FIN packet unexpectedly|Socket closed due to transmission error|data connection closed/i;

export function ftpReplyCode(err: unknown): number | null {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : null;
}

export function mapFtpError(target: string, op: string, object: string, err: unknown): VmbakError {
  if (err instanceof VmbakError) return err;
  const reply = ftpReplyCode(err);
  const errno = (err as { code?: unknown }).code;
  const message = describeError(err).replace(/\s+/g, ' ');
  if (reply === 452 || reply === 552 || (reply === 451 && op !== 'get' && /writ/i.test(message))) {
    return new VmbakError('TARGET_FULL', { target, detail: message }, { cause: err });
  }
  if (reply === 530 || reply === 532 || reply === 553) return new VmbakError('TARGET_DENIED', { target, detail: message }, { cause: err });
  if (typeof errno === 'string' && (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(errno))) {
    return new VmbakError('TARGET_DENIED', { target, detail: `TLS certificate not trusted (${errno}); give its CA with VMBAK_CA_FILE` }, { cause: err });
  }
  if (typeof errno === 'string' && UNREACHABLE.has(errno)) return new VmbakError('TARGET_UNREACHABLE', { target, detail: message }, { cause: err });
  if (/timeout/i.test(message)) {
    return new VmbakError('TARGET_UNREACHABLE', { target, detail: op === 'connect' ? message : `no answer during ${op} ${object} (${message})` }, { cause: err });
  }
  // The server died or the network went mid-operation: no FTP reply explains it.
  if ((typeof errno === 'string' && LOST.has(errno)) || LOST_MESSAGE.test(message)) {
    return new VmbakError('TARGET_UNREACHABLE', { target, detail: `connection lost during ${op} ${object} (${message})` }, { cause: err });
  }
  return new VmbakError('TARGET_IO', { target, op, object, detail: message }, { cause: err });
}
