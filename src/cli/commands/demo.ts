// vmbak demo: the whole cycle, running the same `vmbak` commands a user would type and
// printing each one. With libvirt at hand it shows the real thing (demo-guest.ts): a tiny
// guest booted, backed up hot, written to, backed up again, restored as a new VM that boots;
// `--serve` then leaves `vmbak serve` running on that history for the web console. Without
// libvirt, or with `--image`, it does the same on a disk image it builds itself — back up,
// change 1% of the disk, back up again, restore, verify.

import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCipheriv, createHash } from 'node:crypto';
import { VmbakError, formatBytes } from '../../core/index.ts';
import { guestDemoUnavailable, runGuestDemo, serveDemo } from '../demo-guest.ts';

// The entry point this process runs (src/cli/main.ts, or the bundle's dist/cli/main.js).
const MAIN = process.argv[1]!;

export function registerDemoCommand(program: Command): void {
  program.command('demo')
    .description('back up a real guest hot, write in it, back up again, restore it as a new VM that boots (the README\'s first command)')
    .option('--dir <dir>', 'work directory (default: a new temporary directory, removed afterwards)')
    .option('--image', 'the demo on a disk image instead of a libvirt guest')
    .option('--size <MiB>', 'with --image: disk size in MiB', '1024')
    .option('--serve', 'then run vmbak serve on the demo\'s VMs and backups, with a web console admin')
    .action(async (opts: { dir?: string; size: string; image?: boolean; serve?: boolean }) => {
      const dir = opts.dir ?? await mkdtemp(join(tmpdir(), 'vmbak-demo-'));
      const sizeBytes = Number(opts.size) * 1024 * 1024;
      if (!Number.isInteger(sizeBytes) || sizeBytes < 16 << 20) throw new VmbakError('USAGE', { detail: '--size: give at least 16 (MiB)' });
      const env = { ...process.env, VMBAK_REPO: join(dir, 'repo'), VMBAK_PASSPHRASE: process.env.VMBAK_PASSPHRASE ?? 'demo passphrase' };
      const why = opts.image ? 'asked for (--image)' : await guestDemoUnavailable(say);
      if (!why) {
        try {
          const { vms } = await runGuestDemo(dir, { say, vmbak: (args) => vmbak(env, args) }, opts.serve === true);
          if (opts.serve) await serveDemo(dir, env, MAIN, vms);
        } finally {
          if (!opts.dir && !opts.serve) await rm(dir, { recursive: true, force: true });
        }
        return;
      }
      if (!opts.image) say(`no real guest: ${why}; the demo runs on a disk image instead`);
      const image = join(dir, 'demo-disk.raw');
      try {
        say(`building a ${formatBytes(sizeBytes)} disk image with text, binary and empty regions: ${image}`);
        await writeDemoImage(image, sizeBytes, 1);
        await vmbak(env, ['repo', 'init']);
        const first = await vmbak(env, ['backup', '--image', image, '--vm', 'demo-vm', '--json', '--no-progress']);
        say('changing 1% of the disk in scattered 64 KiB writes');
        await mutateImage(image, sizeBytes, 0.01, 7);
        const second = await vmbak(env, ['backup', '--image', image, '--vm', 'demo-vm', '--json', '--no-progress']);
        await vmbak(env, ['backups', 'ls']);
        await vmbak(env, ['restore', 'demo-vm@latest', '--to', join(dir, 'restored'), '--verify', '--no-progress']);
        const same = (await fileDigest(image)) === (await fileDigest(join(dir, 'restored', 'demo-disk.raw')));
        await vmbak(env, ['verify', '--no-progress']);
        type Result = { bytesRead: number; bytesNew: number; bytesStored: number; durationMs: number };
        const line = (r: Result): string => `read ${formatBytes(r.bytesRead)}, new ${formatBytes(r.bytesNew)}, stored ${formatBytes(r.bytesStored)} (compressed, encrypted) in ${r.durationMs} ms`;
        say('summary');
        process.stdout.write(`  first backup:  ${line(JSON.parse(first) as Result)}\n`
          + `  second backup: ${line(JSON.parse(second) as Result)}\n`
          + `  restored image is ${same ? 'byte-identical to' : 'DIFFERENT from'} the disk\n`);
        if (!same) throw new VmbakError('DIGEST_MISMATCH', { disk: 'demo-disk', backupId: 'latest' });
        if (opts.serve) await serveDemo(dir, env, MAIN, []);
      } finally {
        if (!opts.dir && !opts.serve) await rm(dir, { recursive: true, force: true });
      }
    });
}

function say(text: string): void {
  process.stdout.write(`\n== ${text}\n`);
}

/** Runs a vmbak command in a child process, echoing it; returns its stdout. */
function vmbak(env: NodeJS.ProcessEnv, args: string[]): Promise<string> {
  say(`vmbak ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d; process.stdout.write(d); });
    child.on('close', (code) => code === 0 ? resolve(out) : reject(new VmbakError('INTERNAL', { detail: `vmbak ${args[0]} exited with ${code}` })));
  });
}

/** Deterministic pseudo-random bytes (AES-CTR keystream), incompressible like media files. */
function keystream(seed: number, bytes: number): Buffer {
  const key = createHash('sha256').update(`vmbak-demo-${seed}`).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(bytes));
}

/** A disk that looks like a VM's: a third text (compressible), a fifth random, the rest holes. */
async function writeDemoImage(path: string, sizeBytes: number, seed: number): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(sizeBytes);
    const step = 4 << 20;
    const line = 'Nov 22 04:00:00 host app[1234]: processed request id=%d status=200 bytes=5123\n';
    for (let at = 0, n = 0; at < sizeBytes; at += step, n++) {
      const len = Math.min(step, sizeBytes - at);
      if (n % 3 === 0) await fh.write(Buffer.from(Array.from({ length: len / 64 }, (_, i) => line.replace('%d', String(n * 100000 + i))).join('').slice(0, len)), 0, len, at);
      else if (n % 5 === 1) await fh.write(keystream(seed * 1000 + n, len), 0, len, at);
    }
  } finally {
    await fh.close();
  }
}

async function mutateImage(path: string, sizeBytes: number, fraction: number, seed: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const run = 64 * 1024;
    const runs = Math.max(1, Math.round((sizeBytes * fraction) / run));
    const data = keystream(seed, runs * run);
    for (let i = 0; i < runs; i++) {
      const at = Math.floor(((i * 2654435761) % (sizeBytes / 4096 - 16))) * 4096;
      await fh.write(data, i * run, run, at);
    }
  } finally {
    await fh.close();
  }
}

async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(path, 'r');
  try {
    for await (const chunk of fh.createReadStream()) hash.update(chunk as Buffer);
  } finally {
    await fh.close().catch(() => {});
  }
  return hash.digest('hex');
}
