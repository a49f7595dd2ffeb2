// Runs the real `vmbak` command in a child process, as a user would, and helpers that build
// disk images with QEMU's own tools.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

// The commands of one test file share a chunk cache of their own, removed when the file is
// done, so tests neither leave caches in ~/.cache nor see another file's.
const CACHE_DIR = mkdtempSync(join(tmpdir(), 'vmbak-test-cache-'));
process.once('exit', () => rmSync(CACHE_DIR, { recursive: true, force: true }));

function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { VMBAK_CACHE_DIR: CACHE_DIR, ...process.env, ...env };
}

export function vmbak(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Starts vmbak and returns the child, for tests that kill it. */
export function spawnVmbak(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, [MAIN, ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `vmbak-test-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8' });
}

/** Writes through QEMU's block layer (so qcow2 images get real allocations). */
export function qemuIo(image: string, format: string, ...commands: string[]): void {
  execFileSync('qemu-io', ['-f', format, ...commands.flatMap((c) => ['-c', c]), image], { stdio: 'ignore' });
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The raw content of any image QEMU reads, as a SHA-256. */
export function imageDigest(image: string, dir: string): string {
  const raw = join(dir, `digest-${Math.random().toString(36).slice(2)}.raw`);
  qemuImg('convert', '-O', 'raw', image, raw);
  try {
    return sha256File(raw);
  } finally {
    rmSync(raw, { force: true });
  }
}

/** Parses the single --json line a backup prints. */
export function jsonLine<T = Record<string, unknown>>(result: CliResult): T {
  const lines = result.stdout.trim().split('\n').filter((l) => l.startsWith('{'));
  if (lines.length !== 1) throw new Error(`expected one JSON line, got: ${result.stdout}\n${result.stderr}`);
  return JSON.parse(lines[0]!) as T;
}

/** Asserts the shape every failure must have: one line "vmbak: …", no stack trace. */
export function isCleanError(result: CliResult): boolean {
  const lines = result.stderr.trim().split('\n');
  return result.code !== 0 && lines.length === 1 && lines[0]!.startsWith('vmbak: ') && !/\n\s+at /.test(result.stderr);
}

/** Runs vmbak and, `afterMs` into the run, does something to it (kill its server, say); returns its result. */
export async function vmbakMeanwhile(args: string[], env: NodeJS.ProcessEnv, afterMs: number, meanwhile: () => Promise<void>): Promise<CliResult> {
  const child = spawnVmbak(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d; });
  child.stderr.on('data', (d: Buffer) => { stderr += d; });
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  await new Promise((r) => setTimeout(r, afterMs));
  await meanwhile();
  const { code, signal } = await closed;
  return { code, signal, stdout, stderr };
}

/** Polls `probe` until it returns something truthy; fails naming `what` after timeoutMs. */
export async function waitUntil<T>(what: string, probe: () => T | null | undefined | false, timeoutMs = 30_000, stepMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Objects under a local repository's folder (recursively), without temporary files (NAME.vmbak-tmp-…). */
export function repoFiles(repoDir: string, folder: string): string[] {
  try {
    return (readdirSync(join(repoDir, folder), { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile() && !e.name.includes('.vmbak-tmp-')).map((e) => join(e.parentPath, e.name));
  } catch {
    return [];
  }
}

/** Resolves once a lock held by process `pid` is in the local repository: the command is under way. */
export function lockHeldBy(repoDir: string, pid: number, timeoutMs = 30_000): Promise<string> {
  return waitUntil(`a lock of pid ${pid} in ${repoDir}`,
    () => repoFiles(repoDir, 'locks').find((f) => { try { return (JSON.parse(readFileSync(f, 'utf8')) as { pid?: number }).pid === pid; } catch { return false; } }), timeoutMs);
}
