// Questions about a repository that change nothing on it: which backups a retention would keep
// (the prune plan without its execution, so the simulator and a real prune are the same code)
// and whether a URL with its credentials opens as a repository at all — asked before saving it.

import { VmbakError, describeError } from '../core/index.ts';
import { Repository, type Manifest, type RetentionPolicy } from '../repository/index.ts';
import { planRepositoryPrune } from '../services/index.ts';
import { openTarget } from '../targets/index.ts';
import type { JobStore } from './job-store.ts';
import { withRepository } from './repositories.ts';

export interface PrunePreviewEntry {
  readonly backupId: string;
  readonly vmName: string;
  readonly timeMs: number;
  /** The rules that keep it (`last`, `daily`, …); empty for a backup that would go. */
  readonly reasons: string[];
}

export interface PrunePreview {
  readonly keep: PrunePreviewEntry[];
  readonly remove: PrunePreviewEntry[];
}

const entryOf = (m: Manifest, reasons: string[]): PrunePreviewEntry =>
  ({ backupId: m.backupId, vmName: m.vm.name, timeMs: Date.parse(m.time), reasons });

export async function previewRepositoryPrune(store: JobStore, name: string, retention: RetentionPolicy, vm?: string): Promise<PrunePreview> {
  const plan = await withRepository(store, name, (repo) => planRepositoryPrune(repo, retention, vm));
  return { keep: plan.keep.map((k) => entryOf(k.manifest, k.reasons)), remove: plan.remove.map((m) => entryOf(m, [])) };
}

export type ConnectionTest = { readonly ok: true; readonly repositoryId: string } | { readonly ok: false; readonly code: string; readonly error: string };

/**
 * Opens the target and the repository on it with the passphrase, then closes both. A failure
 * is an answer (its code and one line), not an error of the request: the question was asked.
 */
export async function testRepositoryConnection(url: string, credentials: { passphrase?: string; env?: Record<string, string> } | undefined): Promise<ConnectionTest> {
  try {
    const target = await openTarget(url, credentials?.env);
    try {
      const repo = await Repository.open(target, async () => {
        if (!credentials?.passphrase) throw new VmbakError('REPO_ENCRYPTED_NEEDS_KEY', { repo: target.displayUrl });
        return { passphrase: credentials.passphrase };
      });
      return { ok: true, repositoryId: repo.config.repositoryId };
    } finally {
      await target.close().catch(() => {});
    }
  } catch (err) {
    return { ok: false, code: err instanceof VmbakError ? err.code : 'INTERNAL', error: describeError(err) };
  }
}
