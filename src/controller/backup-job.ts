// A backup job: a policy's VMs (evaluated now, so new VMs are picked up) or named VMs, into
// the policy's repositories through the same service `vmbak backup` uses, each VM's result
// and backup recorded in the catalog as soon as it is known; then the policy's retention in
// each repository. A pattern that matches no VM leaves the policy degraded (a warning) while
// the other VMs are still backed up; a VM already in a running backup is skipped. A VM whose
// latest backup failed verify is read whole rather than built on. Each repository written
// gets a usage sample after the job.

import { VmbakError, type Hypervisor, type VmInfo } from '../core/index.ts';
import { backupFromManifest, type PolicySpec } from '../catalog/index.ts';
import { backupVms, executeRepositoryPrune, planRepositoryPrune, selectVms, type VmOutcome } from '../services/index.ts';
import { repositoryHandles, withRepository, type NamedRepoHandle } from './repositories.ts';
import type { JobStore } from './job-store.ts';
import { sampleUsage } from './care-jobs.ts';
import { indexNewBackups, type NewBackup } from './index-job.ts';
import type { JobContext, JobExecutor, JobOutcome } from './job-runner.ts';

export interface BackupJobParams {
  readonly policy?: string;
  /** A scheduled job must start by then (its backup window's end). */
  readonly notAfterMs?: number | null;
  readonly vms?: readonly string[];
  readonly repositories?: readonly string[];
}

export interface BackupJobDeps {
  readonly store: JobStore;
  readonly hypervisor: Hypervisor;
  /** VMs backed up at once within one job. */
  readonly streams: number;
}

export function backupExecutor(deps: BackupJobDeps): JobExecutor {
  const busy = new Set<string>(); // VM UUIDs in a running backup of this agent
  return async (ctx) => {
    const params = ctx.job.params as BackupJobParams;
    if (params.notAfterMs && Date.now() > params.notAfterMs) {
      return { state: 'failed', error: `skipped: not started before the backup window ended (${new Date(params.notAfterMs).toISOString()})` };
    }
    const spec = params.policy ? await policySpec(deps.store, params.policy) : null;
    const repoNames = spec?.repositories ?? params.repositories ?? [];
    if (repoNames.length === 0) throw new VmbakError('USAGE', { detail: 'a backup job needs a policy or repositories' });
    const targets = await repositoryHandles(deps.store, repoNames, deps.store.alert);
    const copyTargets = await repositoryHandles(deps.store, spec?.copyTo ?? [], deps.store.alert);
    const distrustedBases = new Set(await deps.store.backupIdsInVerifyState([...repoNames, ...spec?.copyTo ?? []], 'failed'));

    const { vms, unmatched } = selectVms(await deps.hypervisor.listVms(), params.vms ?? spec?.vms ?? []);
    const warnings = unmatched.map((p) => `no VM matches ${p}`);
    for (const w of warnings) ctx.log('warning', w);
    const mine = vms.filter((vm) => !busy.has(vm.uuid));
    for (const vm of vms.filter((v) => busy.has(v.uuid))) {
      await deps.store.recordVmResult(ctx.job.id, { vmKey: vm.uuid, vmName: vm.name, state: 'skipped', error: 'already in a running backup' });
      warnings.push(`${vm.name} skipped: already in a running backup`);
    }
    if (mine.length === 0) return { state: warnings.length > 0 ? 'failed' : 'succeeded', error: warnings.join('; ') || null };

    for (const vm of mine) busy.add(vm.uuid);
    const made: NewBackup[] = [];
    try {
      const result = await backupVms({
        selection: { kind: 'hypervisor', hypervisor: deps.hypervisor, vms: mine.map((vm) => vm.uuid) },
        targets, copyTargets, spread: spec?.spread, parallelStreams: deps.streams,
        excludeDisks: spec?.excludeDisks, quiesce: spec?.quiesce, distrustedBases,
        hooks: spec?.hooks ? { preFreeze: spec.hooks.preFreeze, postThaw: spec.hooks.postThaw } : undefined,
      }, {
        signal: ctx.signal, progress: ctx.progress, gate: ctx.gate,
        onStart: (ids) => { for (const vm of ids) ctx.log('info', `backing up ${vm.name}`, vm.key); },
        onOutcome: (o) => {
          void recordOutcome(deps.store, ctx, o, targets);
          const repository = repositoryName(o.repo, targets);
          if (o.manifest && repository) made.push({ repository, manifest: o.manifest });
        },
        onNotice: (m) => ctx.log('info', m),
      });
      if (spec?.fileIndex) await indexNewBackups(deps, ctx, made);
      const written = new Set(result.outcomes.filter((o) => o.manifest).map((o) => repositoryName(o.repo, targets) ?? ''));
      const retention = spec?.retention && result.verdict.status !== 'failed' ? spec.retention : null;
      await afterBackups(deps, ctx, retention, repoNames, written, mine);
      return verdictOutcome(result.verdict.status, result.verdict.error?.message ?? null, warnings);
    } finally {
      for (const vm of mine) busy.delete(vm.uuid);
    }
  };
}

/**
 * The repositories a backup job counts as a writer of: with `spread` every one it may write
 * to, in failover order only the first (the others are written when it fails, after the job
 * already holds its slot), and every `copyTo`.
 */
export function repositoriesWritten(spec: Pick<PolicySpec, 'repositories' | 'spread' | 'copyTo'> | undefined, params: BackupJobParams): string[] {
  const primary = spec?.repositories ?? params.repositories ?? [];
  return [...(spec?.spread ? primary : primary.slice(0, 1)), ...(spec?.copyTo ?? [])];
}

async function policySpec(store: JobStore, name: string): Promise<PolicySpec> {
  const spec = await store.policySpec(name);
  if (!spec) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'policy', name });
  return spec;
}

async function recordOutcome(store: JobStore, ctx: JobContext, o: VmOutcome, targets: readonly NamedRepoHandle[]): Promise<void> {
  const repository = repositoryName(o.repo, targets);
  const m = o.manifest;
  await store.recordVmResult(ctx.job.id, {
    vmKey: o.vm.key, vmName: o.vm.name, state: m ? (o.events.some((e) => /failed/.test(e)) || o.copies.some((c) => !c.ok) ? 'warning' : 'succeeded') : 'failed',
    repository, backupId: m?.backupId ?? null, finishedMs: Date.now(),
    bytesRead: m?.stats.bytesRead ?? 0, bytesWritten: m?.stats.bytesStored ?? 0, error: o.error?.message ?? null,
  });
  if (m && repository) await store.recordBackups([backupFromManifest(repository, m)]);
  for (const e of o.events) ctx.log('warning', e, o.vm.key);
  ctx.log(m ? 'info' : 'error', m ? `${o.vm.name}: backup ${m.backupId} in ${repository}${m.incremental ? ' (incremental)' : m.fallbackReason ? ` (full read: ${m.fallbackReason})` : ''}` : `${o.vm.name}: ${o.error?.message}`, o.vm.key);
}

/**
 * After the backups, in each repository of the job (opened anew: the run closed its own
 * handles): the policy's retention per VM this job backed up — the catalog forgets what goes —
 * and, where the job wrote, a usage sample. A repository that fails here is a note in the
 * job's log, never its failure: the backups are made.
 */
async function afterBackups(deps: BackupJobDeps, ctx: JobContext, retention: PolicySpec['retention'] | null, names: readonly string[], written: ReadonlySet<string>, vms: readonly VmInfo[]): Promise<void> {
  for (const name of names) {
    if (!retention && !written.has(name)) continue;
    try {
      await withRepository(deps.store, name, async (repo) => {
        for (const vm of retention ? vms : []) {
          const plan = await planRepositoryPrune(repo, retention!, vm.uuid);
          if (plan.remove.length === 0) continue;
          await executeRepositoryPrune(repo, plan);
          await deps.store.forgetBackups(name, plan.remove.map((m) => m.backupId));
          ctx.log('info', `retention: removed ${plan.remove.length} backup(s) of ${vm.name} from ${name}`, vm.uuid);
        }
        if (written.has(name)) await sampleUsage(deps.store, name, repo);
      }, deps.store.alert);
    } catch (err) {
      ctx.log('warning', `${retention ? 'retention and usage' : 'usage'} skipped in ${name}: ${(err as Error).message}`);
    }
  }
}

function repositoryName(location: string | null, targets: readonly NamedRepoHandle[]): string | null {
  if (location === null) return null;
  return targets.find((t) => t.location === location || location.startsWith(t.location) || t.location.startsWith(location))?.name ?? null;
}

function verdictOutcome(status: 'succeeded' | 'warning' | 'failed', error: string | null, warnings: readonly string[]): JobOutcome {
  if (status === 'failed') return { state: 'failed', error };
  if (warnings.length > 0) return { state: 'warning', error: [error, ...warnings].filter(Boolean).join('; ') };
  return { state: status, error };
}
