// Starting the serving process of an instant-recovery VM: `vmbak instant serve NAME` as a
// detached child (its own session, so it outlives this command and a Ctrl-C here), output
// appended to the VM's serve.log, credentials handed on the way this command got them — a
// passphrase typed at a prompt goes to the child's environment, never its command line.

import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { VmbakError } from '../core/index.ts';
import { instantPaths, readInstantRecord, readInstantStatus, type InstantServerStarter } from '../services/index.ts';
import { obtainPassphrase } from './passphrase.ts';
import type { RepoOptions } from './context.ts';

const READY_TIMEOUT_MS = 120_000;

export interface StarterOptions extends RepoOptions {
  connect?: string;
}

export function instantServerStarter(opts: StarterOptions, stateDir: string): InstantServerStarter {
  return async (vmName) => {
    const record = readInstantRecord(stateDir, vmName);
    if (!record) throw new VmbakError('INSTANT_NOT_FOUND', { vm: vmName });
    const paths = instantPaths(stateDir, vmName);
    const args = [...process.execArgv, process.argv[1]!, 'instant', 'serve', vmName, '--repo', opts.repo[0] ?? process.env.VMBAK_REPO ?? record.repo];
    const env: NodeJS.ProcessEnv = { ...process.env, VMBAK_STATE_DIR: stateDir };
    if (opts.connect) env.VMBAK_CONNECT = opts.connect;
    if (opts.keyFile) args.push('--key-file', resolve(opts.keyFile));
    else if (opts.passphraseFile[0]) args.push('--passphrase-file', resolve(opts.passphraseFile[0]));
    else env.VMBAK_PASSPHRASE = await obtainPassphrase({});
    const log = openSync(paths.log, 'a', 0o600);
    let exited: string | null = null;
    let pid: number | undefined;
    try {
      const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log], env });
      pid = child.pid;
      child.once('exit', (code, signal) => { exited = signal ?? `exit code ${code}`; });
      child.once('error', (err) => { exited = err.message; });
      child.unref();
    } finally {
      closeSync(log);
    }
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const status = readInstantStatus(stateDir, vmName);
      if (status?.state === 'serving' && status.owner.pid === pid) return;
      if (exited !== null) throw new VmbakError('INSTANT_SERVER_FAILED', { vm: vmName, detail: `ended (${exited}): ${lastLine(paths.log)}`, log: paths.log });
      if (Date.now() > deadline) {
        try { process.kill(pid!, 'SIGKILL'); } catch { /* gone */ }
        throw new VmbakError('INSTANT_SERVER_FAILED', { vm: vmName, detail: `did not start serving within ${READY_TIMEOUT_MS / 1000} s`, log: paths.log });
      }
      await sleep(50);
    }
  };
}

function lastLine(path: string): string {
  if (!existsSync(path)) return 'no output';
  return readFileSync(path, 'utf8').trim().split('\n').at(-1)?.replace(/^vmbak: /, '') || 'no output';
}
