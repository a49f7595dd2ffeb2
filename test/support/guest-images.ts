// Disk images with real guest filesystems, built without mounting: a partition table written
// by sfdisk and filesystem images (mkfs.ext4 -d, mkfs.vfat + mtools…) placed at their offsets.

import { execFileSync } from 'node:child_process';

export function sh(cmd: string, args: string[], input?: string, env: NodeJS.ProcessEnv = process.env): void {
  execFileSync(cmd, args, { input, env, stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
}

/** A disk image of `sizeMiB` with one partition table, and `parts` written at their offsets (1 MiB aligned). */
export function buildDisk(path: string, sizeMiB: number, label: 'gpt' | 'dos', parts: { file: string; sizeMiB: number }[]): void {
  sh('truncate', ['-s', `${sizeMiB}M`, path]);
  let startMiB = 1;
  const lines = parts.map((p) => { const l = `start=${startMiB * 2048}, size=${p.sizeMiB * 2048}`; startMiB += p.sizeMiB; return l; });
  sh('sfdisk', ['-q', path], `label: ${label}\n${lines.join('\n')}\n`);
  startMiB = 1;
  for (const p of parts) {
    sh('dd', [`if=${p.file}`, `of=${path}`, 'bs=1M', `seek=${startMiB}`, 'conv=notrunc,sparse', 'status=none']);
    startMiB += p.sizeMiB;
  }
}

/** An ext4 filesystem image of `sizeMiB` holding the tree at `srcDir` (modes, owners, mtimes kept). */
export function buildExt4(path: string, srcDir: string, sizeMiB: number): void {
  sh('rm', ['-f', path]);
  sh('mkfs.ext4', ['-q', '-F', '-d', srcDir, path, `${sizeMiB}M`]);
}
