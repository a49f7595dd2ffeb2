// Maps ssh2/SFTP failures to vmbak's target errors. SFTP v3 reports most server-side errors
// as a bare SSH_FX_FAILURE (OpenSSH sends ENOSPC that way), so a failed write is classified
// by the caller, which asks the server for free space (statvfs) before deciding TARGET_FULL.

import { VmbakError, describeError } from '../core/index.ts';

export const SFTP_NO_SUCH_FILE = 2;
export const SFTP_PERMISSION_DENIED = 3;
export const SFTP_FAILURE = 4;

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT']);

export function sftpStatus(err: unknown): number | null {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : null;
}

export function mapSftpError(target: string, op: string, object: string, err: unknown): VmbakError {
  if (err instanceof VmbakError) return err;
  const e = err as { code?: unknown; level?: string; message?: string };
  const detail = describeError(err).replace(/\s+/g, ' ');
  if (typeof e.code === 'string' && UNREACHABLE.has(e.code)) return new VmbakError('TARGET_UNREACHABLE', { target, detail }, { cause: err });
  if (e.level === 'client-timeout' || /timed out while waiting for handshake/i.test(e.message ?? '')) {
    return new VmbakError('TARGET_UNREACHABLE', { target, detail: 'timed out connecting' }, { cause: err });
  }
  if (e.level === 'client-authentication') return new VmbakError('TARGET_DENIED', { target, detail: 'authentication failed' }, { cause: err });
  const status = sftpStatus(err);
  if (status === SFTP_PERMISSION_DENIED) return new VmbakError('TARGET_DENIED', { target, detail: `${op} ${object}: permission denied` }, { cause: err });
  if (/no space|quota/i.test(e.message ?? '')) return new VmbakError('TARGET_FULL', { target, detail }, { cause: err });
  return new VmbakError('TARGET_IO', { target, op, object, detail }, { cause: err });
}
