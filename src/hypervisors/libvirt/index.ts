// Public face of the libvirt/QEMU adapter: LibvirtHypervisor (core's Hypervisor interface
// over one connection), and beneath it inventory, backup sessions (hot pull-mode backups with
// checkpoints, cold image reads), crash cleanup, and defining VMs from backups with their
// boot state (UEFI NVRAM, TPM). Reached only through this file.
export { LibvirtHypervisor, DEFAULT_POOL_ROOT, type LibvirtHypervisorOptions } from './hypervisor.ts';
export { DEFAULT_CONNECT_URI, connectUri } from './virsh.ts';
export { ensureLocalLibvirt, type LocalLibvirt } from './local-daemons.ts';
export { listVms, getVm } from './inventory.ts';
export type { LibvirtVm, ConnectOptions } from './inventory.ts';
export { VMBAK_XMLNS, parseDomainXml } from './domain-xml.ts';
export { imagesFromDomainXml } from './domain-xml-images.ts';
export { openBackupSession } from './session.ts';
export type { LibvirtBackupSession } from './hot-session.ts';
export type { SessionOptions, ExportOpener, ImageOpener } from './session-options.ts';
export type { QuiesceMode, QuiesceHooks } from './quiesce.ts';
export { sweepStaleRuns } from './sweep.ts';
export type { SweepOptions, SweptRun } from './sweep.ts';
export { defaultStateDir, readRunRecords, ownerStatus } from './run-records.ts';
export type { RunRecord } from './run-records.ts';
export { defaultScratchRoot, DEFAULT_SCRATCH_RESERVE_BYTES } from './scratch.ts';
export { defineVmFromBackup, rewriteDomainXml, checkRestoreInPlace, restoreStateInPlace, randomMac } from './restore-define.ts';
export type { DefineOptions } from './restore-define.ts';
export type { InPlaceTarget } from '../../core/index.ts';
export { SWTPM_STATE_ROOT, defaultNvramPath, tpmStateDir } from './state-files.ts';
export { CHECKPOINT_PREFIX } from './checkpoints.ts';
