// What a backup run amounts to — the "completed with warnings" policy. The CLI turns the
// verdict into an exit code (0, 3, or the failure's own), the API and the scheduler into a job
// state (succeeded, warning, failed); both therefore agree on what counts as a warning:
//   - every VM recorded, but a --copy-to copy is missing, or hooks were given and a backup is
//     not cleanly application-consistent (a hook failed, the guest was not frozen, a thaw
//     failed): the operator asked for more than they got → warning;
//   - some VMs recorded and some failed → warning (what was recorded is good);
//   - no VM recorded → failed, with the first failure's own error.

import { VmbakError, type QuiesceHooks } from '../core/index.ts';
import type { VmOutcome } from '../engine/index.ts';

export type RunStatus = 'succeeded' | 'warning' | 'failed';

export interface VmFailure {
  readonly vm: string;
  readonly error: VmbakError | null;
}

export interface BackupVerdict {
  readonly status: RunStatus;
  /** COMPLETED_WITH_WARNINGS (exit 3) for a warning, the first VM's own error for a failure, else null. */
  readonly error: VmbakError | null;
  /** Every VM that recorded no backup, in the order they finished. */
  readonly failures: readonly VmFailure[];
}

export function judgeBackupRun(outcomes: readonly VmOutcome[], hooks: Pick<QuiesceHooks, 'preFreeze' | 'postThaw'> = {}): BackupVerdict {
  const failures = outcomes.filter((o) => !o.manifest).map((o) => ({ vm: o.vm.name, error: o.error }));
  if (failures.length === 0) {
    const missingCopies = outcomes.flatMap((o) => o.copies.filter((c) => !c.ok).map((c) => `${o.vm.name} to ${c.repo}`));
    const shortfalls = hookShortfalls(outcomes, hooks);
    if (missingCopies.length === 0 && shortfalls.length === 0) return { status: 'succeeded', error: null, failures };
    const copies = missingCopies.length > 0 ? [`backed up, but ${missingCopies.length} copy(ies) missing (${missingCopies.join(', ')})`] : [];
    return { status: 'warning', error: new VmbakError('COMPLETED_WITH_WARNINGS', { detail: [...shortfalls, ...copies].join('; ') }), failures };
  }
  if (failures.length < outcomes.length) {
    const detail = `${failures.length} of ${outcomes.length} VMs failed (${failures.map((f) => f.vm).join(', ')})`;
    return { status: 'warning', error: new VmbakError('COMPLETED_WITH_WARNINGS', { detail }), failures };
  }
  return { status: 'failed', error: failures[0]!.error ?? new VmbakError('INTERNAL', { detail: 'backup failed' }), failures };
}

/** Recorded backups that fall short of what the hooks asked for, one line each. */
function hookShortfalls(outcomes: readonly VmOutcome[], hooks: Pick<QuiesceHooks, 'preFreeze' | 'postThaw'>): string[] {
  if (hooks.preFreeze === undefined && hooks.postThaw === undefined) return [];
  return outcomes.flatMap((o) => {
    const m = o.manifest;
    if (!m) return [];
    const short = hooks.preFreeze !== undefined && m.consistency !== 'application';
    if (!short && m.warnings.length === 0) return [];
    return [`${o.vm.name}${short ? ` is ${m.consistency}-consistent, not application-consistent` : ''}: ${m.warnings.join('; ')}`];
  });
}
