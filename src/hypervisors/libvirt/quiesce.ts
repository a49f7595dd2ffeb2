// Consistency around the instant a hot backup starts: host-side pre-freeze hook, guest
// filesystem freeze through the QEMU guest agent, the start itself, thaw, post-thaw hook.
// The guest stays frozen only for the backup-begin call (~0.2 s); thaw is attempted even
// when the start fails, because a guest left frozen is worse than a failed backup.

import { execFile } from 'node:child_process';
import { VmbakError } from '../../core/index.ts';
import type { Consistency } from '../../core/index.ts';
import { virshRaw } from './virsh.ts';

export type QuiesceMode = 'auto' | 'require' | 'off';

export interface QuiesceHooks {
  /** Shell command run on the host before the freeze (VMBAK_VM_NAME, VMBAK_VM_UUID set). */
  readonly preFreeze?: string;
  readonly postThaw?: string;
  readonly timeoutMs?: number;
}

export interface QuiesceOptions {
  readonly mode: QuiesceMode;
  readonly hooks?: QuiesceHooks;
  readonly uri?: string;
  readonly freezeTimeoutMs?: number;
}

export interface QuiesceResult<T> {
  readonly result: T;
  readonly consistency: Consistency;
  readonly warnings: string[];
}

const DEFAULT_HOOK_TIMEOUT_MS = 60_000;
const DEFAULT_FREEZE_TIMEOUT_MS = 30_000;

export async function quiesceAround<T>(vm: { name: string; uuid: string }, opts: QuiesceOptions, start: () => Promise<T>): Promise<QuiesceResult<T>> {
  const warnings: string[] = [];
  if (opts.mode === 'off') return { result: await start(), consistency: 'crash', warnings };
  const strict = opts.mode === 'require';
  const hooks = opts.hooks ?? {};
  let hooksOk = hooks.preFreeze !== undefined || hooks.postThaw !== undefined;
  if (hooks.preFreeze) {
    const err = await runHook('pre-freeze', hooks.preFreeze, vm, hooks.timeoutMs);
    if (err) {
      if (strict) throw err;
      warnings.push(err.message);
      hooksOk = false;
    }
  }
  let frozen = false;
  try {
    await virshRaw(['domfsfreeze', vm.uuid], { uri: opts.uri, timeoutMs: opts.freezeTimeoutMs ?? DEFAULT_FREEZE_TIMEOUT_MS });
    frozen = true;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    if (strict) {
      await runPostThaw(vm, hooks, warnings);
      throw new VmbakError('QUIESCE_FAILED', { vm: vm.name, detail });
    }
    warnings.push(`VM ${vm.name} was not quiesced (${detail}); the backup is crash-consistent`);
  }
  let result: T;
  try {
    result = await start();
  } finally {
    if (frozen) await thaw(vm, opts, warnings);
    if (!(await runPostThaw(vm, hooks, warnings))) hooksOk = false;
  }
  const consistency: Consistency = !frozen ? 'crash' : hooksOk ? 'application' : 'filesystem';
  return { result, consistency, warnings };
}

async function thaw(vm: { name: string; uuid: string }, opts: QuiesceOptions, warnings: string[]): Promise<void> {
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await virshRaw(['domfsthaw', vm.uuid], { uri: opts.uri, timeoutMs: opts.freezeTimeoutMs ?? DEFAULT_FREEZE_TIMEOUT_MS });
      return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
  }
  warnings.push(`could not thaw VM ${vm.name}'s filesystems (${last}); run: virsh domfsthaw ${vm.name}`);
}

async function runPostThaw(vm: { name: string; uuid: string }, hooks: QuiesceHooks, warnings: string[]): Promise<boolean> {
  if (!hooks.postThaw) return true;
  const err = await runHook('post-thaw', hooks.postThaw, vm, hooks.timeoutMs);
  if (err) warnings.push(err.message);
  return err === null;
}

/** Runs a hook through /bin/sh with a timeout; returns the failure as an error, or null. */
export function runHook(hook: string, command: string, vm: { name: string; uuid: string }, timeoutMs = DEFAULT_HOOK_TIMEOUT_MS): Promise<VmbakError | null> {
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', command], {
      timeout: timeoutMs, killSignal: 'SIGKILL',
      env: { ...process.env, VMBAK_HOOK: hook, VMBAK_VM_NAME: vm.name, VMBAK_VM_UUID: vm.uuid },
    }, (err, _stdout, stderr) => {
      if (!err) { resolve(null); return; }
      const detail = err.killed ? `timed out after ${timeoutMs} ms`
        : `exit ${err.code ?? '?'}${stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : ''}`;
      resolve(new VmbakError('HOOK_FAILED', { hook, vm: vm.name, detail }));
    });
  });
}
