// vmbak repo init: creates a repository on a target.

import type { Command } from 'commander';
import { VmbakError, formatBytes, parseSize } from '../../core/index.ts';
import { openTarget } from '../../targets/index.ts';
import { DEFAULT_INCREMENTAL_COMPRESSION_LEVEL, Repository } from '../../repository/index.ts';
import { collect, repoLocation, type RepoOptions } from '../context.ts';
import { obtainPassphrase } from '../passphrase.ts';

interface InitOptions extends RepoOptions {
  encryption: boolean;
  chunkSize?: string;
  packSize?: string;
  compressionLevel?: string;
  incrementalCompressionLevel?: string;
}

export function registerRepoCommands(program: Command): void {
  const repo = program.command('repo').description('create and inspect repositories');
  repo.command('init')
    .description('create a repository (encrypted unless --no-encryption)')
    .option('--repo <location>', 'repository path or URL (default: $VMBAK_REPO)', collect, [])
    .option('--passphrase-file <file>', 'read the passphrase from a file (default: $VMBAK_PASSPHRASE, or a prompt)', collect, [])
    .option('--no-encryption', 'store data unencrypted (chunk ids are then plain SHA-256)')
    .option('--chunk-size <size>', 'chunk size, a power of two from 4K to 16M', '64K')
    .option('--pack-size <size>', 'target size of pack objects', '16M')
    .option('--compression-level <n>', 'zstd level (-7..22)', '1')
    .option('--incremental-compression-level <n>', `zstd level for the new chunks of backups that build on a previous one (default: ${DEFAULT_INCREMENTAL_COMPRESSION_LEVEL}, or --compression-level when higher)`)
    .action(async (opts: InitOptions) => {
      const chunkSizeBytes = parseSize(opts.chunkSize ?? '64K');
      if (!chunkSizeBytes || chunkSizeBytes < 4096 || chunkSizeBytes > 16 << 20 || (chunkSizeBytes & (chunkSizeBytes - 1)) !== 0) {
        throw new VmbakError('USAGE', { detail: `--chunk-size ${opts.chunkSize}: give a power of two from 4K to 16M` });
      }
      const packSizeBytes = parseSize(opts.packSize ?? '16M');
      if (!packSizeBytes || packSizeBytes < 1 << 20 || packSizeBytes > 1 << 30) throw new VmbakError('USAGE', { detail: `--pack-size ${opts.packSize}: give 1M to 1G` });
      const level = zstdLevel('--compression-level', opts.compressionLevel ?? '1');
      const incrementalLevel = opts.incrementalCompressionLevel === undefined ? undefined : zstdLevel('--incremental-compression-level', opts.incrementalCompressionLevel);
      const target = await openTarget(repoLocation(opts));
      const passphrase = opts.encryption ? await obtainPassphrase({ passphraseFile: opts.passphraseFile[0], confirm: true, prompt: 'New repository passphrase: ' }) : null;
      const created = await Repository.init(target, { passphrase, chunkSizeBytes, packSizeBytes, compressionLevel: level, incrementalCompressionLevel: incrementalLevel });
      process.stdout.write(`created repository ${created.config.repositoryId} at ${target.displayUrl}\n`
        + `  ${created.config.encryption ? 'encrypted (AES-256-GCM, HMAC-SHA-256 chunk ids)' : 'NOT encrypted'}, `
        + `chunks of ${formatBytes(chunkSizeBytes)}, zstd level ${level} (${created.config.compression.incrementalLevel} for incremental backups)\n`);
      if (created.config.encryption) {
        process.stdout.write('  Keep the passphrase safe. If it is lost, only the master key printed by\n'
          + '  `vmbak key export` can open this repository: export it now and store it apart.\n');
      }
      await target.close();
    });
}

function zstdLevel(option: string, value: string): number {
  const level = Number(value);
  if (!Number.isInteger(level) || level < -7 || level > 22) throw new VmbakError('USAGE', { detail: `${option} ${value}: give an integer from -7 to 22` });
  return level;
}
