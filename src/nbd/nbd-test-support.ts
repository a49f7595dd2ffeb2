// Test helpers for the NBD client: real images made with qemu-img/qemu-io and a real
// qemu-nbd serving them. Missing tools skip locally but fail under CI=true.

import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from 'node:test';

export function haveTool(t: TestContext, tool: string): boolean {
  try {
    execFileSync('which', [tool], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error(`${tool} is missing (run scripts/install-system-deps.sh)`);
    t.skip(`${tool} is not installed`);
    return false;
  }
}

export function makeTempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmbak-nbd-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Creates an image and applies qemu-io commands such as 'write -P 0xab 1M 64k'. */
export function makeImage(file: string, format: string, size: string, ioCommands: string[] = []): string {
  execFileSync('qemu-img', ['create', '-q', '-f', format, file, size]);
  if (ioCommands.length > 0) {
    execFileSync('qemu-io', ['-f', format, ...ioCommands.flatMap((c) => ['-c', c]), file], { stdio: 'ignore' });
  }
  return file;
}

export interface ServedImage { readonly socketPath: string; readonly server: ChildProcess }

/** Serves an image with a persistent qemu-nbd (so tests may connect more than once). */
export async function serveImage(
  t: { after(fn: () => void): void }, dir: string, file: string, format: string, extraArgs: string[] = [],
): Promise<ServedImage> {
  const socketPath = path.join(dir, `${path.basename(file)}.sock`);
  const server = spawn('qemu-nbd', ['--read-only', '--persistent', '--shared=8', '-f', format, '-k', socketPath, ...extraArgs, file], { stdio: 'ignore' });
  t.after(() => { server.kill('SIGKILL'); });
  for (let i = 0; i < 500 && !existsSync(socketPath); i++) await sleep(10);
  return { socketPath, server };
}
