// Host-side hook commands around a guest freeze (--pre-freeze, --post-thaw). Each runs through
// /bin/sh in a process group of its own, so a timeout kills the hook and everything it started:
// a script's children would otherwise outlive it and keep running against the application.
// The hook's stdout is discarded (it must not mix with `--json` output); the first line of its
// stderr goes into the error.

import { spawn } from 'node:child_process';
import { VmbakError } from '../../core/index.ts';

export type HookName = 'pre-freeze' | 'post-thaw';

export const DEFAULT_HOOK_TIMEOUT_MS = 60_000;
const STDERR_KEEP_BYTES = 64 * 1024;
/** A background child of the hook may hold its stderr open: after the hook exits, wait no longer. */
const STDERR_DRAIN_MS = 200;

/** Runs a hook with a time limit; resolves to its failure as HOOK_FAILED, or null when it exited 0. */
export function runHook(hook: HookName, command: string, vm: { name: string; uuid: string }, timeoutMs = DEFAULT_HOOK_TIMEOUT_MS): Promise<VmbakError | null> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], {
      detached: true, stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, VMBAK_HOOK: hook, VMBAK_VM_NAME: vm.name, VMBAK_VM_UUID: vm.uuid },
    });
    let stderr = '';
    let timedOut = false;
    let settled = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => { if (stderr.length < STDERR_KEEP_BYTES) stderr += d; });
    const failure = (detail: string) => new VmbakError('HOOK_FAILED', { hook, vm: vm.name, detail });
    const settle = (result: VmbakError | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stderr.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    child.once('error', (err) => settle(failure(err.message)));
    child.once('exit', (code, signal) => {
      const done = (): void => {
        if (timedOut) { settle(failure(`timed out after ${timeoutMs / 1000} s (killed)`)); return; }
        if (code === 0) { settle(null); return; }
        const firstLine = stderr.trim().split('\n')[0]?.trim();
        settle(failure(`${signal ? `killed by ${signal}` : `exit ${code}`}${firstLine ? `: ${firstLine}` : ''}`));
      };
      if (child.stderr.readableEnded) done();
      else {
        child.stderr.once('end', done);
        setTimeout(done, STDERR_DRAIN_MS).unref();
      }
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
}
