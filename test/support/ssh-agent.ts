// A real ssh-agent for tests, on its own socket in a temp directory, holding the keys given.

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stopProcess } from './free-port.ts';

const run = promisify(execFile);

export interface SshAgent {
  readonly socketPath: string;
  stop(): Promise<void>;
}

export async function startSshAgent(keyPaths: readonly string[]): Promise<SshAgent> {
  const dir = await mkdtemp(join(tmpdir(), 'vmbak-agent-'));
  const socketPath = join(dir, 'agent.sock');
  // -D: in the foreground, so the test owns the process and stops it for sure.
  const child = spawn('ssh-agent', ['-D', '-a', socketPath], { stdio: 'ignore' });
  const stop = async (): Promise<void> => {
    await stopProcess(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 10_000;
    while (!(await access(socketPath).then(() => true, () => false))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`ssh-agent did not start (exit ${child.exitCode})`);
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const key of keyPaths) await run('ssh-add', ['-q', key], { env: { ...process.env, SSH_AUTH_SOCK: socketPath } });
  } catch (err) {
    await stop();
    throw err;
  }
  return { socketPath, stop };
}
