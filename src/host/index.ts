// This host's local state: process ownership (host, pid, start time) and directories of
// small JSON records. Used by locks, libvirt run records and job records.
export { currentProcessOwner, hostName, ownerStatus, processStartTicks, type ProcessOwner } from './process-owner.ts';
export { readRecords, removeRecord, writeRecord } from './record-dir.ts';
export { removeTree } from './remove-tree.ts';
export { defaultStateDir } from './state-dir.ts';
