// The repository's config object: the one object stored in the clear, so vmbak can tell the
// format version, chunking and whether a key is needed before it has one. Readers refuse a
// version they do not know instead of guessing.

import { z } from 'zod';
import { VmbakError } from '../core/index.ts';

export const FORMAT_VERSION = 1;
export const DEFAULT_CHUNK_SIZE_BYTES = 64 * 1024;
export const DEFAULT_PACK_SIZE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_COMPRESSION_LEVEL = 1;
/**
 * The level for the new chunks of a backup that builds on a previous one of the same disk. A
 * first backup stores everything and is bound by compression, so it uses the fast level; a
 * later one stores few chunks, so compressing them harder costs little time, and they are
 * what a repository grows by day after day. Level 4 is the last before zstd's lazy
 * strategies halve the speed (docs/format.md, "Compression level").
 */
export const DEFAULT_INCREMENTAL_COMPRESSION_LEVEL = 4;

const levelSchema = z.number().int().min(-7).max(22);

const configSchema = z.object({
  format: z.literal('vmbak-repository'),
  version: z.number().int(),
  repositoryId: z.string().regex(/^[0-9a-f]{32}$/),
  createdAt: z.string(),
  chunkSizeBytes: z.number().int().min(4096).max(16 * 1024 * 1024),
  packSizeBytes: z.number().int().min(1024 * 1024),
  // incrementalLevel is absent in repositories made before it existed: `level` throughout.
  compression: z.object({ algorithm: z.literal('zstd'), level: levelSchema, incrementalLevel: levelSchema.optional() }),
  encryption: z.object({ algorithm: z.literal('aes-256-gcm'), chunkId: z.literal('hmac-sha256'), kdf: z.literal('scrypt') }).nullable(),
});

export type RepositoryConfig = z.infer<typeof configSchema>;

/** The zstd level for new chunks; incremental: the repository holds a previous backup of the disk. */
export function compressionLevelFor(config: RepositoryConfig, incremental: boolean): number {
  return incremental ? config.compression.incrementalLevel ?? config.compression.level : config.compression.level;
}

export function encodeConfig(config: RepositoryConfig): Buffer {
  return Buffer.from(JSON.stringify(config, null, 2) + '\n');
}

export function decodeConfig(data: Buffer, repo: string): RepositoryConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString('utf8'));
  } catch {
    throw new VmbakError('REPO_CONFIG_CORRUPT', { repo, detail: 'not JSON' });
  }
  const version = (raw as { version?: unknown })?.version;
  if ((raw as { format?: unknown })?.format === 'vmbak-repository' && typeof version === 'number' && version !== FORMAT_VERSION) {
    throw new VmbakError('REPO_VERSION_UNKNOWN', { repo, version, supported: FORMAT_VERSION });
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new VmbakError('REPO_CONFIG_CORRUPT', { repo, detail: `${issue?.path.join('.') || 'config'}: ${issue?.message}` });
  }
  return parsed.data;
}
