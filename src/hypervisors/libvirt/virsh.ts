// The one way vmbak talks to libvirt: the `virsh` command. There is no maintained pure-JS
// libvirt binding, and virsh is on every libvirt host, so each call is one execFile with
// `-c URI` (default qemu:///system, or VMBAK_CONNECT) whose failure becomes LIBVIRT_FAILED
// with virsh's own one-line message.

import { execFile } from 'node:child_process';
import { VmbakError } from '../../core/index.ts';

export const DEFAULT_CONNECT_URI = 'qemu:///system';

export function connectUri(uri?: string): string {
  return uri ?? process.env.VMBAK_CONNECT ?? DEFAULT_CONNECT_URI;
}

export interface VirshOptions {
  readonly uri?: string;
  /** The VM the call is about, for the error message. */
  readonly vm?: string;
  readonly timeoutMs?: number;
}

export class VirshError extends Error {
  readonly stderr: string;
  constructor(message: string, stderr: string) {
    super(message);
    this.name = 'VirshError';
    this.stderr = stderr;
  }
}

/** Runs virsh and returns stdout; a non-zero exit throws LIBVIRT_FAILED. */
export async function virsh(args: readonly string[], opts: VirshOptions = {}): Promise<string> {
  try {
    return await virshRaw(args, opts);
  } catch (err) {
    const detail = err instanceof VirshError ? err.message : String(err);
    throw new VmbakError('LIBVIRT_FAILED', { op: args[0] ?? 'virsh', vm: opts.vm ?? '-', detail }, { cause: err });
  }
}

/** Like virsh() but throws VirshError, for callers that branch on libvirt's message. */
export function virshRaw(args: readonly string[], opts: VirshOptions = {}): Promise<string> {
  const full = ['-q', '-c', connectUri(opts.uri), ...args];
  return new Promise((resolve, reject) => {
    execFile('virsh', full, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (!err) { resolve(stdout); return; }
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new VirshError('virsh is not installed (Debian package libvirt-clients)', ''));
          return;
        }
        reject(new VirshError(firstErrorLine(stderr) || err.message.split('\n')[0]!, stderr));
      });
  });
}

/** virsh prints "error: failed to get domain 'x'" then the reason; keep the informative part. */
function firstErrorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.replace(/^error:\s*/, '').trim()).filter(Boolean);
  return lines.slice(0, 2).join(': ');
}

/** Runs an HMP or QMP command through libvirt's monitor passthrough. */
export function monitorCommand(vm: string, command: string, opts: VirshOptions & { hmp?: boolean } = {}): Promise<string> {
  const args = ['qemu-monitor-command', vm];
  if (opts.hmp) args.push('--hmp');
  args.push(command);
  return virsh(args, { ...opts, vm });
}
