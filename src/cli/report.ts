// How finished backups are reported: the --json line (contract in docs/cli.md) and the human
// summary.

import { formatBytes, formatDuration, formatRate } from '../core/index.ts';
import type { Manifest } from '../repository/index.ts';

export interface CopyReport {
  readonly repo: string;
  readonly ok: boolean;
  readonly error: string | null;
  /** The backup's id in that repository, when the copy was written. */
  readonly backupId?: string | null;
}

export function backupJson(manifest: Manifest, repo: string, copies: readonly CopyReport[]): Record<string, unknown> {
  const changed = manifest.disks.map((d) => d.bytesChanged);
  return {
    backupId: manifest.backupId,
    vm: manifest.vm.name,
    vmUuid: manifest.vm.uuid,
    repo,
    time: manifest.time,
    incremental: manifest.incremental,
    fallbackReason: manifest.fallbackReason,
    consistency: manifest.consistency,
    bytesRead: manifest.stats.bytesRead,
    bytesNew: manifest.stats.bytesNew,
    bytesStored: manifest.stats.bytesStored,
    bytesChanged: changed.every((c) => c !== null) ? changed.reduce((a, b) => a! + b!, 0) : null,
    durationMs: Math.round(manifest.stats.durationMs),
    disks: manifest.disks.map((d) => ({
      name: d.name, sizeBytes: d.sizeBytes, bytesRead: d.bytesRead, bytesNew: d.bytesNew,
      bytesChanged: d.bytesChanged, incremental: d.incremental, fallbackReason: d.fallbackReason,
      read: d.read ?? 'read', readReason: d.readReason ?? null,
    })),
    skippedDisks: manifest.skippedDisks,
    warnings: manifest.warnings,
    copies,
  };
}

export function backupSummary(manifest: Manifest, repo: string): string {
  const s = manifest.stats;
  const compression = s.bytesStored > 0 ? `${(s.bytesNew / s.bytesStored).toFixed(2)}×` : '-';
  const dedup = s.bytesNew > 0 ? `${(s.bytesRead / s.bytesNew).toFixed(2)}×` : s.bytesRead > 0 ? 'all known' : '-';
  const lines = [
    `backup ${manifest.backupId} of ${manifest.vm.name} in ${repo}: ${manifest.incremental ? 'incremental' : 'full read'}, ${manifest.consistency}-consistent`,
    `  read ${formatBytes(s.bytesRead)}, new ${formatBytes(s.bytesNew)}, stored ${formatBytes(s.bytesStored)} `
      + `(compression ${compression}, dedup ${dedup}) in ${formatDuration(s.durationMs)} (${formatRate(s.bytesRead, s.durationMs)})`,
  ];
  for (const d of manifest.disks) {
    lines.push(`  ${d.name}: ${formatBytes(d.sizeBytes)}, read ${formatBytes(d.bytesRead)}, new ${formatBytes(d.bytesNew)}`
      + (d.read === 'skipped' ? ` (not read: ${d.readReason})` : d.fallbackReason ? ` (${d.fallbackReason})` : ''));
  }
  for (const sk of manifest.skippedDisks) lines.push(`  ${sk.name}: skipped (${sk.reason})`);
  for (const w of manifest.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n') + '\n';
}
