// A backup's manifest: written last, after every pack, pack index and disk index it needs, so
// a backup exists exactly when its manifest does. Sealed like every metadata object; this
// schema is the contract of `backups ls --json` and of restores.

import { z } from 'zod';

const fileFactsSchema = z.object({
  path: z.string(),
  sizeBytes: z.number().int().nonnegative(),
  mtimeNs: z.string().regex(/^\d+$/),
  ctimeNs: z.string().regex(/^\d+$/),
  inode: z.string().regex(/^\d+$/),
  device: z.string().regex(/^\d+$/),
});

const diskSchema = z.object({
  name: z.string(),
  sizeBytes: z.number().int().nonnegative(),
  chunkSizeBytes: z.number().int().positive(),
  /** SHA-256 over the disk index's ordered chunk ids (see disk-index.ts). */
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  format: z.string(),
  sourcePath: z.string().nullable(),
  bytesRead: z.number().int().nonnegative(),
  bytesNew: z.number().int().nonnegative(),
  bytesChanged: z.number().int().nonnegative().nullable(),
  incremental: z.boolean(),
  fallbackReason: z.string().nullable(),
  /**
   * The image file's facts before it was read (image files, shut-off VMs), which let the next
   * backup skip an unchanged image. Absent in manifests written before they existed, and
   * for disks whose facts cannot vouch for their content.
   */
  sourceFile: fileFactsSchema.extend({ backing: z.array(fileFactsSchema).optional() }).optional(),
  /** Whether the disk was read or its previous index reused unread, and why (absent in older manifests). */
  read: z.enum(['read', 'skipped']).optional(),
  readReason: z.string().nullable().optional(),
});

export const manifestSchema = z.object({
  version: z.literal(1),
  backupId: z.string(),
  vm: z.object({ key: z.string(), name: z.string(), uuid: z.string().nullable() }),
  time: z.string(),
  finishedAt: z.string(),
  host: z.string(),
  source: z.enum(['image', 'domain-xml', 'libvirt']),
  consistency: z.enum(['application', 'filesystem', 'crash']),
  incremental: z.boolean(),
  fallbackReason: z.string().nullable(),
  parentBackupId: z.string().nullable(),
  checkpointId: z.string().nullable(),
  domainXml: z.string().nullable(),
  stateFiles: z.array(z.object({ name: z.string(), dataBase64: z.string() })),
  disks: z.array(diskSchema),
  skippedDisks: z.array(z.object({ name: z.string(), reason: z.string() })),
  warnings: z.array(z.string()),
  /**
   * Set when `vmbak copy` wrote this backup from another repository: where it came from.
   * Absent in backups taken directly (and in every manifest written before copies existed).
   */
  copiedFrom: z.object({
    repositoryId: z.string(),
    repo: z.string(),
    backupId: z.string(),
    copiedAt: z.string(),
  }).optional(),
  stats: z.object({
    bytesRead: z.number().int().nonnegative(),
    bytesNew: z.number().int().nonnegative(),
    bytesStored: z.number().int().nonnegative(),
    durationMs: z.number().nonnegative(),
  }),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestDisk = z.infer<typeof diskSchema>;
