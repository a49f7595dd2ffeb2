// Waiting on what tests start: a condition polled until a deadline (with the output of the
// process under test in the error, when given), and vmbak processes tracked so the test's
// after hook can kill whatever a failed test left running.

import type { ChildProcess } from 'node:child_process';
import { spawnVmbak } from './vmbak-cli.ts';

export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number, output?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${output ? `\n${output().slice(-3000)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface TrackedProcess {
  readonly child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  readonly exited: Promise<number | null>;
}

/** vmbak commands started by one test file; `killAll()` in its after hook. */
export function vmbakProcesses(): { spawn(args: string[], env?: NodeJS.ProcessEnv): TrackedProcess; killAll(): void } {
  const children = new Set<ChildProcess>();
  return {
    spawn(args, env = {}) {
      const child = spawnVmbak(args, env);
      let out = '';
      child.stdout!.on('data', (d: Buffer) => { out += d; });
      child.stderr!.on('data', (d: Buffer) => { out += d; });
      children.add(child);
      const exited = new Promise<number | null>((resolve) => child.once('close', (code) => { children.delete(child); resolve(code); }));
      return { child, output: () => out, exited };
    },
    killAll() {
      for (const c of children) c.kill('SIGKILL');
    },
  };
}
