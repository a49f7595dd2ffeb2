// `vmbak serve` for the console tests: a child process on a free loopback port serving the
// console built into `consoleDir`, ready once /api/v1/health answers 200; its log kept for a
// failing test's report. `env` reaches the child only (fault rules for the server's targets).

import type { ChildProcess } from 'node:child_process';
import { findFreePort, stopProcess } from './free-port.ts';
import { spawnVmbak } from './vmbak-cli.ts';

export interface ConsoleServer {
  readonly base: string;
  readonly log: () => string;
  stop(): Promise<void>;
}

export async function startConsoleServer(dataDir: string, consoleDir: string, extra: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ConsoleServer> {
  const base = `http://127.0.0.1:${await findFreePort()}`;
  const child: ChildProcess = spawnVmbak(['serve', '--data-dir', dataDir, '--listen', base.slice('http://'.length), '--console-dir', consoleDir, ...extra], env);
  let log = '';
  child.stdout!.on('data', (d: Buffer) => { log += d; });
  child.stderr!.on('data', (d: Buffer) => { log += d; });
  const server = { base, log: () => log, stop: () => stopProcess(child, 10_000) };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vmbak serve exited with ${child.exitCode}: ${log}`);
    if ((await fetch(`${base}/api/v1/health`).catch(() => null))?.status === 200) return server;
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`vmbak serve was not ready within 60 s: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The server's warnings and errors (pino levels above info), for a failing test's report. */
export const warningsOf = (log: string): string =>
  log.split('\n').filter((l) => l.trim() && !l.includes('"level":30') && !l.includes('NOT_READY')).join('\n').slice(-8000);
