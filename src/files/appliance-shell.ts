// Shell commands run inside libguestfs's appliance (its own Linux, not the guest's), for the
// walks that per-file guestfish calls would make thousands of round trips for. `debug sh`
// splits its argument on spaces, so the script travels base64-encoded and is decoded by the
// appliance's coreutils. Big results stay in the appliance's /tmp and come back in pieces
// small enough for one libguestfs reply (its messages are capped at 4 MiB).

import { VmbakError } from '../core/index.ts';
import type { Guestfish } from './guestfish.ts';

const PIECE_BYTES = 2 * 1024 * 1024;

/** Runs a POSIX sh script in the appliance; resolves with its stdout lines. */
export async function applianceSh(g: Guestfish, script: string, timeoutMs: number): Promise<string[]> {
  const encoded = Buffer.from(script, 'utf8').toString('base64');
  const r = await g.run(`debug sh "echo ${encoded} | base64 -d | sh"`, timeoutMs);
  if (r.error !== null) throw new VmbakError('FILE_BROWSER_FAILED', { detail: `appliance script: ${r.error}` });
  return r.lines;
}

/** Reads a file of the appliance's own filesystem (not the guest's) of `sizeBytes`. */
export async function readApplianceFile(g: Guestfish, path: string, sizeBytes: number, timeoutMs: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < sizeBytes; offset += PIECE_BYTES) {
    const lines = await applianceSh(g, `dd if=${path} bs=${PIECE_BYTES} skip=${offset / PIECE_BYTES} count=1 iflag=fullblock status=none | base64 -w0`, timeoutMs);
    pieces.push(Buffer.from(lines.join(''), 'base64'));
  }
  const data = Buffer.concat(pieces);
  if (data.length !== sizeBytes) throw new VmbakError('FILE_BROWSER_FAILED', { detail: `read ${data.length} of the ${sizeBytes} bytes of ${path} in the appliance` });
  return data;
}
