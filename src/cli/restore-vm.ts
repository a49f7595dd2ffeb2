// The command-line side of whole-VM restores (restore --as-vm / --in-place): opens the
// repository, asks before overwriting a VM, prints the outcome. The work itself is the
// restore service's (restoreAsVm, planRestoreInPlace → executeRestoreInPlace).

import { createInterface } from 'node:readline/promises';
import { VmbakError } from '../core/index.ts';
import { connectHypervisor, executeRestoreInPlace, newProgress, planRestoreInPlace, resolveBackupRef, restoreAsVm } from '../services/index.ts';
import { abortOnSignals, openRepository, type RepoOptions } from './context.ts';
import { startProgressBar } from './progress-bar.ts';

export interface VmRestoreCliOptions extends RepoOptions {
  verify?: boolean;
  json?: boolean;
  progress: boolean;
  asVm?: string;
  poolDir?: string;
  network: boolean;
  start?: boolean;
  inPlace?: boolean;
  yes?: boolean;
  connect?: string;
}

export async function runVmRestore(ref: string, opts: VmRestoreCliOptions): Promise<void> {
  const repo = await openRepository(opts);
  const signal = abortOnSignals();
  const hypervisor = connectHypervisor({ uri: opts.connect });
  try {
    const manifest = await resolveBackupRef(repo, ref);
    const progress = newProgress(Date.now());
    const run = { signal, progress };
    if (opts.inPlace) {
      const { plan, question } = await planRestoreInPlace(manifest, hypervisor);
      await confirmOrRefuse(question, opts.yes === true);
      const written = await executeRestoreInPlace({ repo, backup: manifest, hypervisor, plan, verify: opts.verify === true }, run);
      if (opts.json) process.stdout.write(`${JSON.stringify({ backupId: manifest.backupId, vm: plan.vmName, inPlace: true, paths: written })}\n`);
      else process.stdout.write(`restored backup ${manifest.backupId} over VM ${plan.vmName}: ${written.join(', ')}\n`);
      return;
    }
    const stopBar = startProgressBar(progress, `restore ${manifest.backupId} as ${opts.asVm}`, opts.progress && !opts.json);
    const made = await restoreAsVm({
      repo, backup: manifest, hypervisor, newName: opts.asVm!, poolDir: opts.poolDir, noNetwork: !opts.network, start: opts.start === true, verify: opts.verify === true,
    }, run).finally(stopBar);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ backupId: manifest.backupId, vm: opts.asVm, uuid: made.uuid, started: opts.start === true, disks: made.disks, nvram: made.nvramPath, tpmState: made.tpmStateDir })}\n`);
    } else {
      const state = [made.nvramPath && 'UEFI NVRAM', made.tpmStateDir && 'TPM state'].filter(Boolean);
      process.stdout.write(`defined VM ${opts.asVm} (${made.uuid}) from backup ${manifest.backupId} of ${manifest.vm.name}, disks in ${made.poolDir}${state.length ? `, ${state.join(' and ')} restored` : ''}${opts.start ? ', started' : ''}\n`);
    }
  } finally {
    await repo.target.close();
  }
}

/** Asks on a terminal; without one, refuses unless --yes was given. */
export async function confirmOrRefuse(what: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY) throw new VmbakError('CONFIRMATION_NEEDED', { what });
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${what}? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new VmbakError('USAGE', { detail: `${what}: not confirmed` });
  } finally {
    rl.close();
  }
}
