// A catalog that looks like a small site a few weeks in, for screenshots and trying the console
// without a hypervisor: 48 VMs on two hosts, two repositories with a month of usage, three
// policies (one missing its RPO), backups, jobs that succeeded, failed and still run, and alerts.
// Everything goes through the catalog's own functions, as the controller would write it.

import { mkdirSync } from 'node:fs';
import {
  appendJobEvent, assignVmPolicies, createJob, createUser, dataDirPaths, loadSecretsBox, openCatalog, recordBackups, recordEvent,
  recordJobVm, recordUsage, setJobState, syncHostVms, upsertPolicy, upsertRepository, type BackupInput,
} from '../src/catalog/index.ts';
import type { VmInfo } from '../src/core/index.ts';

const DAY_MS = 86_400_000;
const GIB = 1024 ** 3;

export async function writeConsoleDemoData(dataDir: string, adminPassword: string): Promise<void> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const paths = dataDirPaths(dataDir);
  const secrets = loadSecretsBox(paths.secretsKey, { create: true });
  const catalog = await openCatalog(paths.catalog);
  try {
    const nowMs = Date.now();
    const roles = ['web', 'db', 'cache', 'build'];
    const vms: VmInfo[] = Array.from({ length: 48 }, (_, i) => ({
      uuid: `6f1c2a4e-0000-4000-8000-${String(i).padStart(12, '0')}`, name: `${roles[i % 4]}${String(Math.floor(i / 4) + 1).padStart(2, '0')}`,
      state: i % 9 === 5 ? 'shutoff' : 'running', host: i % 2 ? 'kvm-b' : 'kvm-a',
      disks: [{ target: 'vda', device: 'disk', path: `/var/lib/libvirt/images/vm${i}.qcow2`, format: 'qcow2', sizeBytes: (20 + (i % 5) * 20) * GIB, skipReason: null, unsupportedReason: null, changedBlockTracking: true }],
      tags: i % 4 === 1 ? ['prod', 'db'] : i % 4 === 0 ? ['prod'] : [],
    } as unknown as VmInfo));
    for (const host of ['kvm-a', 'kvm-b']) await syncHostVms(catalog, host, vms.filter((v) => v.host === host));
    await upsertRepository(catalog, secrets, { name: 'local', url: '/srv/vmbak', credentials: { passphrase: 'demo' } });
    await upsertRepository(catalog, secrets, { name: 'offsite', url: 's3://backups.example.com/vmbak', credentials: { passphrase: 'demo' } });
    await upsertPolicy(catalog, { name: 'web', spec: { vms: ['web*'], repositories: ['local'], copyTo: ['offsite'], schedule: '0 2 * * *', timezone: 'Europe/Berlin', rpo: '26h', retention: { keepDaily: 7, keepWeekly: 4 } } });
    await upsertPolicy(catalog, { name: 'databases', spec: { vms: ['tag:db'], repositories: ['local'], schedule: '0 */4 * * *', rpo: '5h', retention: { keepLast: 12, keepDaily: 14 } } });
    await upsertPolicy(catalog, { name: 'cache', spec: { vms: ['cache*'], repositories: ['offsite'], schedule: '30 3 * * 0', retention: { keepWeekly: 8 } } });
    const policyOf = (vm: VmInfo) => (vm.name.startsWith('web') ? 'web' : vm.tags.includes('db') ? 'databases' : vm.name.startsWith('cache') ? 'cache' : null);
    await assignVmPolicies(catalog, new Map(vms.map((vm) => [vm.uuid, policyOf(vm)])));
    const backups: BackupInput[] = vms.filter((vm) => policyOf(vm) !== null).flatMap((vm, n) => Array.from({ length: 5 }, (_, k) => ({
      repository: policyOf(vm) === 'cache' ? 'offsite' : 'local', backupId: `b${vm.uuid.slice(-4)}${k}`, vmKey: vm.uuid, vmUuid: vm.uuid,
      vmName: vm.name, host: vm.host, timeMs: nowMs - (k + (policyOf(vm) === 'databases' && n % 3 === 0 ? 1 : 0.2)) * DAY_MS,
      logicalBytes: 40 * GIB, newBytes: (k === 4 ? 12 : 0.4) * GIB, storedBytes: (k === 4 ? 5 : 0.2) * GIB,
      consistency: k % 2 ? 'filesystem' : 'application', incremental: k !== 4,
    } satisfies BackupInput)));
    await recordBackups(catalog, backups);
    for (let d = 30; d >= 0; d--) {
      await recordUsage(catalog, 'local', { timeMs: nowMs - d * DAY_MS, storedBytes: (180 + (30 - d) * 3.1) * GIB, logicalBytes: (1400 + (30 - d) * 20) * GIB, chunkCount: 90_000 + d, capacityBytes: 2048 * GIB, dedupRatio: 4.1, compressionRatio: 1.9 });
      await recordUsage(catalog, 'offsite', { timeMs: nowMs - d * DAY_MS, storedBytes: (95 + (30 - d) * 1.7) * GIB, logicalBytes: (700 + (30 - d) * 9) * GIB, chunkCount: 50_000 + d, capacityBytes: null, dedupRatio: 3.6, compressionRatio: 1.9 });
    }
    const ok = await createJob(catalog, { kind: 'backup', policy: 'web', trigger: 'schedule', params: { policy: 'web' } });
    await setJobState(catalog, ok.id, 'running');
    for (const vm of vms.filter((v) => v.name.startsWith('web'))) {
      await recordJobVm(catalog, ok.id, { vmKey: vm.uuid, vmName: vm.name, state: 'succeeded', repository: 'local', startedMs: nowMs - 3_600_000, finishedMs: nowMs - 3_300_000, bytesRead: 3 * GIB, bytesWritten: 0.4 * GIB });
      await appendJobEvent(catalog, ok.id, 'info', `backed up ${vm.name}: 3.0 GiB read, 410 MiB new`, vm.uuid);
    }
    await setJobState(catalog, ok.id, 'succeeded');
    const failed = await createJob(catalog, { kind: 'backup', policy: 'databases', trigger: 'schedule', params: { policy: 'databases' } });
    await setJobState(catalog, failed.id, 'running');
    await appendJobEvent(catalog, failed.id, 'error', 'db03: the guest agent did not answer the freeze within 60 s (quiesce: require)', vms[9]!.uuid);
    await recordJobVm(catalog, failed.id, { vmKey: vms[9]!.uuid, vmName: vms[9]!.name, state: 'failed', repository: 'local', error: 'QUIESCE_FAILED: the guest agent did not answer the freeze within 60 s' });
    await setJobState(catalog, failed.id, 'failed', '1 of 12 VMs failed: db03 (QUIESCE_FAILED: the guest agent did not answer the freeze within 60 s)');
    const running = await createJob(catalog, { kind: 'backup', policy: 'cache', trigger: 'manual', params: { policy: 'cache' } });
    await setJobState(catalog, running.id, 'running');
    await appendJobEvent(catalog, running.id, 'info', 'cache01: reading 3 disks (changed blocks only)', vms[2]!.uuid);
    await recordEvent(catalog, { kind: 'job.failed', severity: 'error', key: failed.id, message: `job ${failed.id} (databases) failed: 1 of 12 VMs` });
    await recordEvent(catalog, { kind: 'rpo.missed', severity: 'warning', key: vms[1]!.uuid, message: `${vms[1]!.name} has no good backup within its RPO of 5h` });
    await createUser(catalog, 'admin', 'admin', adminPassword);
  } finally {
    catalog.close();
  }
}
