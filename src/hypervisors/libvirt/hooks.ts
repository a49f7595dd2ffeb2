// Host-side hook commands around a guest freeze (--pre-freeze, --post-thaw). Each runs through
// /bin/sh in a process group of its own, so a timeout or an abort kills the hook and everything
// it started: a script's children would otherwise outlive it and keep running against the
// application. The hook's stdout is discarded (it must not mix with `--json` output); the first
// line of its stderr goes into the error.

import { spawn } from 'node:child_process';
import { VmbakError } from '../../core/index.ts';

export type HookName = 'pre-freeze' | 'post-thaw';

export const DEFAULT_HOOK_TIMEOUT_MS = 60_000;
const STDERR_KEEP_BYTES = 64 * 1024;
/** A background child of the hook may hold its stderr open: after the hook exits, wait no longer. */
const STDERR_DRAIN_MS = 200;

export interface HookRun {
  readonly timeoutMs?: number;
  /** Kills the hook's process group at once when it fires; a hook is not started after it fired. */
  readonly signal?: AbortSignal;
}

/** Runs a hook with a time limit; resolves to its failure as HOOK_FAILED, or null when it exited 0. */
export function runHook(hook: HookName, command: string, vm: { name: string; uuid: string }, run: HookRun = {}): Promise<VmbakError | null> {
  const timeoutMs = run.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS;
  const failure = (detail: string) => new VmbakError('HOOK_FAILED', { hook, vm: vm.name, detail });
  if (run.signal?.aborted) return Promise.resolve(failure('not run: the backup was aborted'));
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], {
      detached: true, stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, VMBAK_HOOK: hook, VMBAK_VM_NAME: vm.name, VMBAK_VM_UUID: vm.uuid },
    });
    let stderr = '';
    let killedFor: 'timeout' | 'abort' | null = null;
    let settled = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => { if (stderr.length < STDERR_KEEP_BYTES) stderr += d; });
    const kill = (why: 'timeout' | 'abort'): void => {
      killedFor ??= why;
      killGroup(child.pid);
    };
    const onAbort = (): void => kill('abort');
    const settle = (result: VmbakError | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      run.signal?.removeEventListener('abort', onAbort);
      child.stderr.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => kill('timeout'), timeoutMs);
    run.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => settle(failure(err.message)));
    child.once('exit', (code, signal) => {
      const done = (): void => {
        if (killedFor === 'timeout') { settle(failure(`timed out after ${timeoutMs / 1000} s (killed)`)); return; }
        if (killedFor === 'abort') { settle(failure('killed: the backup was aborted')); return; }
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
