// The on-target repository format: keys, chunks, packs, disk indexes, manifests, locks, and
// the care operations over them. docs/format.md is its normative description.
export { Repository, type InitOptions, type Credentials } from './repository.ts';
export { splitMasterSecret, type MasterKeys } from './crypto.ts';
export { computeChunkId, decodeChunk, maxBlobBytes } from './codec.ts';
export { ChunkTable, chunkKey as chunkKeyOf, type ChunkLocation } from './chunk-table.ts';
export { DiskIndex, ZERO_CHUNK_ID, chunkCountFor } from './disk-index.ts';
export { PackWriter } from './pack-writer.ts';
export { loadChunkTable, planBlobReads, readPackRange, forEachLimited, type BlobRequest } from './chunk-store.ts';
export { acquireLock, operationLockName, listLocks, describeOwner, type HeldLock, type LockOwner, type LockState } from './locks.ts';
export { recordBackup, unusedBackupId } from './record-backup.ts';
export { type Manifest, type ManifestDisk } from './manifest.ts';
export { encodeExportedKey } from './keys.ts';
export {
  DEFAULT_CHUNK_SIZE_BYTES, DEFAULT_COMPRESSION_LEVEL, DEFAULT_INCREMENTAL_COMPRESSION_LEVEL, DEFAULT_PACK_SIZE_BYTES, compressionLevelFor, type RepositoryConfig,
} from './config.ts';
export { listBackups, listBackupIds, resolveBackupRef, latestBackupOf, newBackupId, matchesVm, type BackupListing } from './backup-list.ts';
export { openChunkTableForWriting, noteGcPlan, readGcPlan, GC_LOCK } from './gc-plan.ts';
export { planPrune, executePrune, type RetentionPolicy, type PrunePlan } from './prune.ts';
export { runGc, type GcReport } from './gc.ts';
export { checkRepository, type CheckReport } from './check.ts';
export { type FileIndex, type FileIndexHeader, type IndexedEntry, type IndexedFilesystem, type IndexedType, type DiskExtent } from './file-index.ts';
