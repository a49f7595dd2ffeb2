// The <domainbackup> document for one pull-mode backup: an NBD server on a unix socket, one
// scratch file per disk, `<incremental>` when any disk reads changes since a checkpoint and
// backupmode='full' for the disks that cannot, backup='no' for excluded disks.

import { join } from 'node:path';
import { escapeXml } from './xml.ts';

export interface BackupDiskPlan {
  readonly target: string;
  /** Read only what changed since the <incremental> checkpoint (else a full read). */
  readonly incremental: boolean;
}

export function socketPath(runDir: string): string {
  return join(runDir, 'nbd.sock');
}

export function scratchPath(runDir: string, target: string): string {
  return join(runDir, `${target}.scratch`);
}

export function backupXml(runDir: string, since: string | null, disks: readonly BackupDiskPlan[], notBackedUp: readonly string[]): string {
  const useIncremental = since !== null && disks.some((d) => d.incremental);
  const lines = disks.map((d) => {
    const mode = useIncremental ? (d.incremental ? " backupmode='incremental'" : " backupmode='full'") : '';
    return `    <disk name='${escapeXml(d.target)}' backup='yes' type='file'${mode}><scratch file='${escapeXml(scratchPath(runDir, d.target))}'/></disk>`;
  });
  for (const t of notBackedUp) lines.push(`    <disk name='${escapeXml(t)}' backup='no'/>`);
  return `<domainbackup mode='pull'>
${useIncremental ? `  <incremental>${escapeXml(since)}</incremental>\n` : ''}  <server transport='unix' socket='${escapeXml(socketPath(runDir))}'/>
  <disks>
${lines.join('\n')}
  </disks>
</domainbackup>
`;
}
