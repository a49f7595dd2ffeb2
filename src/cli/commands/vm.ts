// vmbak vm ls: the VMs one libvirt connection manages, with what a backup would do with each
// disk (back it up, skip it and why, or refuse it and why). JSON contract in docs/cli.md.

import type { Command } from 'commander';
import { formatBytes } from '../../core/index.ts';
import { connectHypervisor, listVms } from '../../services/index.ts';

interface VmLsOptions { connect?: string; json?: boolean }

export function registerVmCommands(program: Command): void {
  const vm = program.command('vm').description('the hypervisor\'s VMs');
  vm.command('ls')
    .description('list VMs: name, UUID, state, host, disks, tags')
    .option('--connect <uri>', 'libvirt connection URI (default: $VMBAK_CONNECT or qemu:///system)')
    .option('--json', 'print one JSON array (see docs/cli.md, "vm ls --json")')
    .action(async (opts: VmLsOptions) => {
      const vms = await listVms(connectHypervisor({ uri: opts.connect }));
      const rows = vms.map((v) => ({
        name: v.name, uuid: v.uuid, state: v.state, host: v.host, tags: v.tags,
        disks: v.disks.map((d) => ({
          target: d.target, device: d.device, path: d.path, format: d.format, sizeBytes: d.sizeBytes,
          changedBlockTracking: d.changedBlockTracking, skipReason: d.skipReason, unsupportedReason: d.unsupportedReason,
        })),
      }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(rows)}\n`);
        return;
      }
      process.stdout.write(`${'NAME'.padEnd(24)}${'STATE'.padEnd(10)}${'UUID'.padEnd(38)}TAGS\n`);
      for (const r of rows) {
        process.stdout.write(`${r.name.padEnd(24)}${r.state.padEnd(10)}${r.uuid.padEnd(38)}${r.tags.join(',')}\n`);
        for (const d of r.disks) {
          const note = d.skipReason ? `skipped: ${d.skipReason}` : d.unsupportedReason ? `refused: ${d.unsupportedReason}` : d.changedBlockTracking ? 'changed-block tracking' : 'full read or hash-delta';
          process.stdout.write(`  ${d.target.padEnd(6)}${d.format.padEnd(7)}${formatBytes(d.sizeBytes).padEnd(11)}${(d.path ?? '-')}  (${note})\n`);
        }
      }
    });
}
