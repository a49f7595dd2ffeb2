// An open repository: its config, its keys, and typed access to its objects. Creating and
// opening live here; backup/restore pipelines (engine/) and care operations (verify, prune,
// gc, check) work through this class and never spell object names themselves.

import { randomBytes } from 'node:crypto';
import { VmbakError, isVmbakError, type Target } from '../core/index.ts';
import {
  DEFAULT_CHUNK_SIZE_BYTES, DEFAULT_COMPRESSION_LEVEL, DEFAULT_INCREMENTAL_COMPRESSION_LEVEL, DEFAULT_PACK_SIZE_BYTES, FORMAT_VERSION,
  decodeConfig, encodeConfig, type RepositoryConfig,
} from './config.ts';
import { splitMasterSecret, type MasterKeys } from './crypto.ts';
import { decodeExportedKey, newMasterSecret, unlockWithPassphrase, writeKeyFile } from './keys.ts';
import { CONFIG_OBJECT, backupPrefix, diskIndexObject, fileIndexObject, keyObject, manifestObject } from './layout.ts';
import { decodeFileIndex, encodeFileIndex, type FileIndex } from './file-index.ts';
import { openObject, sealObject } from './codec.ts';
import { DiskIndex } from './disk-index.ts';
import { manifestSchema, type Manifest } from './manifest.ts';

export interface InitOptions {
  /** null creates an unencrypted repository (only when the user asked for it). */
  readonly passphrase: string | null;
  readonly chunkSizeBytes?: number;
  readonly packSizeBytes?: number;
  readonly compressionLevel?: number;
  /** For incremental backups' new chunks; default: the larger of compressionLevel and DEFAULT_INCREMENTAL_COMPRESSION_LEVEL. */
  readonly incrementalCompressionLevel?: number;
}

/** How to unlock: a passphrase, or the master key printed by `vmbak key export`. */
export interface Credentials {
  readonly passphrase?: string;
  readonly exportedKey?: string;
}

export class Repository {
  readonly target: Target;
  readonly config: RepositoryConfig;
  readonly keys: MasterKeys | null;
  /** The key file the passphrase opened, or null (unencrypted, or opened with an exported key). */
  readonly keyId: string | null;
  private readonly secret: Buffer | null;

  private constructor(target: Target, config: RepositoryConfig, secret: Buffer | null, keyId: string | null) {
    this.target = target;
    this.config = config;
    this.secret = secret;
    this.keyId = keyId;
    this.keys = secret ? splitMasterSecret(secret) : null;
  }

  get displayUrl(): string {
    return this.target.displayUrl;
  }

  get masterSecret(): Buffer {
    if (!this.secret) throw new VmbakError('REPO_NOT_ENCRYPTED', { repo: this.displayUrl });
    return this.secret;
  }

  static async init(target: Target, options: InitOptions): Promise<Repository> {
    // Only init makes the location (an S3 bucket): elsewhere a missing one is an error.
    await target.prepare?.();
    if (await target.stat(CONFIG_OBJECT)) throw new VmbakError('REPO_EXISTS', { repo: target.displayUrl });
    const level = options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL;
    const incrementalLevel = options.incrementalCompressionLevel ?? Math.max(level, DEFAULT_INCREMENTAL_COMPRESSION_LEVEL);
    const config: RepositoryConfig = {
      format: 'vmbak-repository',
      version: FORMAT_VERSION,
      repositoryId: randomBytes(16).toString('hex'),
      createdAt: new Date().toISOString(),
      chunkSizeBytes: options.chunkSizeBytes ?? DEFAULT_CHUNK_SIZE_BYTES,
      packSizeBytes: options.packSizeBytes ?? DEFAULT_PACK_SIZE_BYTES,
      compression: { algorithm: 'zstd', level, incrementalLevel },
      encryption: options.passphrase === null ? null : { algorithm: 'aes-256-gcm', chunkId: 'hmac-sha256', kdf: 'scrypt' },
    };
    let secret: Buffer | null = null;
    let keyId: string | null = null;
    if (options.passphrase !== null) {
      secret = newMasterSecret();
      keyId = await writeKeyFile(target, config.repositoryId, secret, options.passphrase);
    }
    // The config is created last and only if absent: a repository exists once it is there.
    if (!(await target.create(CONFIG_OBJECT, encodeConfig(config)))) throw new VmbakError('REPO_EXISTS', { repo: target.displayUrl });
    return new Repository(target, config, secret, keyId);
  }

  static async readConfig(target: Target): Promise<RepositoryConfig> {
    try {
      return decodeConfig(await target.get(CONFIG_OBJECT), target.displayUrl);
    } catch (err) {
      if (isVmbakError(err, 'OBJECT_MISSING')) throw new VmbakError('REPO_NOT_FOUND', { repo: target.displayUrl });
      throw err;
    }
  }

  static async open(target: Target, credentials: () => Promise<Credentials>): Promise<Repository> {
    const config = await Repository.readConfig(target);
    if (!config.encryption) return new Repository(target, config, null, null);
    const creds = await credentials();
    if (creds.exportedKey) {
      return new Repository(target, config, decodeExportedKey(creds.exportedKey, config.repositoryId, target.displayUrl), null);
    }
    if (creds.passphrase === undefined) throw new VmbakError('REPO_ENCRYPTED_NEEDS_KEY', { repo: target.displayUrl });
    const { keyId, secret } = await unlockWithPassphrase(target, config.repositoryId, creds.passphrase);
    return new Repository(target, config, secret, keyId);
  }

  async readManifest(backupId: string): Promise<Manifest> {
    const name = manifestObject(backupId);
    let blob: Buffer;
    try {
      blob = await this.target.get(name);
    } catch (err) {
      if (isVmbakError(err, 'OBJECT_MISSING')) throw new VmbakError('BACKUP_NOT_FOUND', { backupId, repo: this.displayUrl });
      throw err;
    }
    const data = openObject(this.keys, blob, name);
    if (!data) throw new VmbakError('MANIFEST_CORRUPT', { backupId, repo: this.displayUrl, detail: 'fails authentication' });
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString('utf8'));
    } catch {
      throw new VmbakError('MANIFEST_CORRUPT', { backupId, repo: this.displayUrl, detail: 'not JSON' });
    }
    const parsed = manifestSchema.safeParse(raw);
    if (!parsed.success || parsed.data.backupId !== backupId) {
      throw new VmbakError('MANIFEST_CORRUPT', { backupId, repo: this.displayUrl, detail: parsed.success ? 'names another backup' : `${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}` });
    }
    return parsed.data;
  }

  /** Writes a manifest; fails if that backup id is taken, so two writers never overwrite one another. */
  async writeManifest(manifest: Manifest): Promise<boolean> {
    const name = manifestObject(manifest.backupId);
    return this.target.create(name, sealObject(this.keys, Buffer.from(JSON.stringify(manifest)), name));
  }

  async readDiskIndex(backupId: string, disk: string): Promise<DiskIndex> {
    const name = diskIndexObject(backupId, disk);
    let blob: Buffer;
    try {
      blob = await this.target.get(name);
    } catch (err) {
      if (isVmbakError(err, 'OBJECT_MISSING')) throw new VmbakError('INDEX_CORRUPT', { backupId, disk, detail: 'the index object is missing' });
      throw err;
    }
    const data = openObject(this.keys, blob, name);
    if (!data) throw new VmbakError('INDEX_CORRUPT', { backupId, disk, detail: 'fails authentication' });
    const index = DiskIndex.decode(data);
    if (typeof index === 'string') throw new VmbakError('INDEX_CORRUPT', { backupId, disk, detail: index });
    return index;
  }

  async writeDiskIndex(backupId: string, disk: string, index: DiskIndex): Promise<void> {
    const name = diskIndexObject(backupId, disk);
    await this.target.put(name, sealObject(this.keys, index.encode(), name));
  }

  /** The backup's file index, or null when it has none. */
  async readFileIndex(backupId: string): Promise<FileIndex | null> {
    const name = fileIndexObject(backupId);
    let blob: Buffer;
    try {
      blob = await this.target.get(name);
    } catch (err) {
      if (isVmbakError(err, 'OBJECT_MISSING')) return null;
      throw err;
    }
    const data = openObject(this.keys, blob, name);
    if (!data) throw new VmbakError('FILE_INDEX_CORRUPT', { backupId, repo: this.displayUrl, detail: 'fails authentication' });
    const index = decodeFileIndex(data);
    if (typeof index === 'string' || index.header.backupId !== backupId) {
      throw new VmbakError('FILE_INDEX_CORRUPT', { backupId, repo: this.displayUrl, detail: typeof index === 'string' ? index : 'names another backup' });
    }
    return index;
  }

  /**
   * Writes (or replaces, atomically) a backup's file index. It is written after the manifest,
   * so it names a backup that exists; one that lost the race with prune is an orphan of a
   * folder without manifest, which gc removes.
   */
  async writeFileIndex(index: FileIndex): Promise<void> {
    const name = fileIndexObject(index.header.backupId);
    await this.target.put(name, sealObject(this.keys, encodeFileIndex(index), name));
  }

  async deleteFileIndex(backupId: string): Promise<void> {
    await this.target.delete(fileIndexObject(backupId));
  }

  /** True when no object of a backup with this id exists (not even a crashed run's index). */
  async isBackupIdFree(backupId: string): Promise<boolean> {
    return (await this.target.list(backupPrefix(backupId))).length === 0;
  }

  /**
   * Sets a new passphrase. The new key file is written before the old one is removed, so a
   * crash leaves two working keys, never none. Data is not rewritten.
   */
  async changePassphrase(passphrase: string): Promise<void> {
    await writeKeyFile(this.target, this.config.repositoryId, this.masterSecret, passphrase);
    if (this.keyId) await this.target.delete(keyObject(this.keyId));
  }
}
