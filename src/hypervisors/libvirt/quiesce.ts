// Consistency around the instant a hot backup starts: host-side pre-freeze hook, guest
// filesystem freeze through the QEMU guest agent, the start itself, thaw, post-thaw hook.
// The guest stays frozen only for the backup-begin call (~0.2 s). It is never left frozen by
// vmbak: thaw is attempted whenever the freeze may have happened (also when the start or the
// freeze call itself failed), fatal signals wait for the thaw (signal-hold.ts), and the run
// record says "may be frozen" across the window so the next start thaws after a kill -9.
// An abort kills a running pre-freeze hook at once and ends the start there; a post-thaw hook
// is let run to its own timeout, because it undoes what pre-freeze did to the application.

import { VmbakError } from '../../core/index.ts';
import type { Consistency, QuiesceHooks, QuiesceMode } from '../../core/index.ts';
import { DEFAULT_HOOK_TIMEOUT_MS, runHook } from './hooks.ts';
import { holdFatalSignals } from './signal-hold.ts';
import { virshRaw } from './virsh.ts';

export type { QuiesceMode, QuiesceHooks } from '../../core/index.ts';

export interface QuiesceOptions {
  readonly mode: QuiesceMode;
  readonly hooks?: QuiesceHooks;
  readonly uri?: string;
  readonly freezeTimeoutMs?: number;
  /**
   * Told true just before the freeze is tried and false once the guest is known thawed, so a
   * run record can say whether a run that died in between may have left the guest frozen.
   */
  readonly onFreezeState?: (mayBeFrozen: boolean) => void;
  /** The run's abort: kills a running pre-freeze hook; the start is then given up with its reason. */
  readonly signal?: AbortSignal;
  /** Told, in one line, what an aborted run still waits for (a post-thaw hook let finish). */
  readonly onNotice?: (message: string) => void;
}

export interface QuiesceResult<T> {
  readonly result: T;
  readonly consistency: Consistency;
  readonly warnings: string[];
}

type Vm = { name: string; uuid: string };

const DEFAULT_FREEZE_TIMEOUT_MS = 30_000;
const THAW_ATTEMPTS = 3;

export async function quiesceAround<T>(vm: Vm, opts: QuiesceOptions, start: () => Promise<T>): Promise<QuiesceResult<T>> {
  const warnings: string[] = [];
  throwIfAborted(opts.signal);
  if (opts.mode === 'off') return { result: await start(), consistency: 'crash', warnings };
  const strict = opts.mode === 'require';
  const hooks = opts.hooks ?? {};
  const timeoutMs = hooks.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS;
  // An abort that came while a hook ran or the guest was being frozen skips backup-begin.
  const startUnlessAborted = async (): Promise<T> => { throwIfAborted(opts.signal); return start(); };
  let applicationQuiesced = false;
  let outcome: { result: T; frozen: boolean };
  try {
    if (hooks.preFreeze) {
      const err = await runHook('pre-freeze', hooks.preFreeze, vm, { timeoutMs, signal: opts.signal });
      throwIfAborted(opts.signal);
      if (err && strict) throw err;
      if (err) warnings.push(err.message);
      applicationQuiesced = err === null;
    }
    outcome = await frozenAround(vm, opts, strict, warnings, startUnlessAborted);
  } finally {
    // Not tied to the abort: killing it could leave the application as pre-freeze left it.
    if (hooks.postThaw) {
      const announce = () => opts.onNotice?.(`waiting for the post-thaw hook of VM ${vm.name} to finish (at most ${Math.ceil(timeoutMs / 1000)} s) before aborting`);
      if (opts.signal?.aborted) announce();
      else opts.signal?.addEventListener('abort', announce, { once: true });
      try {
        const err = await runHook('post-thaw', hooks.postThaw, vm, { timeoutMs });
        if (err) warnings.push(err.message);
      } finally {
        opts.signal?.removeEventListener('abort', announce);
      }
    }
  }
  // A failing post-thaw does not lower it: the point in time was taken with the application quiesced.
  const consistency: Consistency = !outcome.frozen ? 'crash' : applicationQuiesced ? 'application' : 'filesystem';
  return { result: outcome.result, consistency, warnings };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}

/** Freeze, start, thaw — with fatal signals held and the freeze state reported throughout. */
async function frozenAround<T>(vm: Vm, opts: QuiesceOptions, strict: boolean, warnings: string[], start: () => Promise<T>): Promise<{ result: T; frozen: boolean }> {
  const closeWindow = holdFatalSignals();
  try {
    opts.onFreezeState?.(true);
    const freezeError = await freeze(vm, opts);
    if (freezeError === null) {
      try {
        return { result: await start(), frozen: true };
      } finally {
        await thawOrWarn(vm, opts, warnings);
      }
    }
    // virsh can fail after the agent froze (its timeout, the terminal's Ctrl-C reaching it):
    // thaw unless the agent was certainly never reached.
    if (agentNeverReached(freezeError)) reportThawed(opts);
    else await thawOrWarn(vm, opts, warnings);
    if (strict) throw new VmbakError('QUIESCE_FAILED', { vm: vm.name, detail: freezeError });
    warnings.push(`VM ${vm.name} was not quiesced (${freezeError}); the backup is crash-consistent`);
    return { result: await start(), frozen: false };
  } finally {
    closeWindow();
  }
}

async function freeze(vm: Vm, opts: QuiesceOptions): Promise<string | null> {
  try {
    await virshRaw(['domfsfreeze', vm.uuid], { uri: opts.uri, timeoutMs: opts.freezeTimeoutMs ?? DEFAULT_FREEZE_TIMEOUT_MS });
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * libvirt's answers when the freeze command was never sent: no agent listens, or the domain is
 * not running (paused: libvirt checks the state before it talks to the agent). Without this a
 * paused VM's run record kept saying "may be frozen", and a kill -9 of that run left a record
 * no sweep would take (a paused guest is not thawed) — `npm run fleet` found it.
 */
function agentNeverReached(detail: string): boolean {
  return /agent is not (connected|configured|responding)|agent not available|domain is not running/i.test(detail);
}

async function thawOrWarn(vm: Vm, opts: QuiesceOptions, warnings: string[]): Promise<void> {
  const err = await thawFilesystems(vm, opts.uri, opts.freezeTimeoutMs);
  if (err === null) reportThawed(opts);
  else warnings.push(`could not thaw VM ${vm.name}'s filesystems (${err}); run: virsh domfsthaw ${vm.name}`);
}

function reportThawed(opts: QuiesceOptions): void {
  // A record left saying "may be frozen" only costs the next start a harmless thaw.
  try { opts.onFreezeState?.(false); } catch { /* see above */ }
}

/**
 * Thaws the guest's filesystems (a no-op when they are not frozen), retrying; returns the last
 * failure, or null once thawed.
 */
export async function thawFilesystems(vm: { uuid: string }, uri?: string, timeoutMs = DEFAULT_FREEZE_TIMEOUT_MS): Promise<string | null> {
  let last = '';
  for (let attempt = 0; attempt < THAW_ATTEMPTS; attempt++) {
    try {
      await virshRaw(['domfsthaw', vm.uuid], { uri, timeoutMs });
      return null;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
  }
  return last;
}
