// A fault-injecting wrapper around the real `virsh`, put first on the PATH of a vmbak run: it
// logs when vmbak's freeze, backup-begin and thaw calls start and end (with the guest agent's
// freeze status at backup-begin), and can hold backup-begin — the instant the guest is frozen —
// until the test lets it go. That makes "the guest is frozen right now" a state a test reaches
// deterministically, to kill or signal vmbak there, with no test-only code in vmbak itself.

import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TEST_URI } from './libvirt.ts';

export interface SpyEvent {
  readonly op: string;
  readonly phase: string;
  readonly atMs: number;
  /** For backup-begin start: the agent's guest-fsfreeze-status; for end: virsh's exit code. */
  readonly detail: string;
}

export interface VirshSpy {
  /** Prepend to PATH in the vmbak run's environment. */
  readonly binDir: string;
  /** Holds the next backup-begin calls until release(). */
  hold(): void;
  release(): void;
  /** Waits until a backup-begin is being held and returns the wrapper's pid. */
  waitHeld(timeoutMs?: number): Promise<number>;
  events(): SpyEvent[];
  clear(): void;
}

export function createVirshSpy(dir: string): VirshSpy {
  const realVirsh = execFileSync('sh', ['-c', 'command -v virsh'], { encoding: 'utf8' }).trim();
  const binDir = join(dir, 'bin');
  mkdirSync(binDir, { recursive: true });
  const log = join(dir, 'virsh.log');
  const holdFile = join(dir, 'hold');
  const heldFile = join(dir, 'held');
  const script = `#!/bin/sh
op=; dom=; next=
for a in "$@"; do
  if [ -n "$next" ]; then dom=$a; break; fi
  case "$a" in domfsfreeze|domfsthaw|backup-begin) op=$a; next=1 ;; esac
done
[ -n "$op" ] || exec ${realVirsh} "$@"
if [ "$op" = backup-begin ]; then
  status=$(${realVirsh} -q -c ${TEST_URI} qemu-agent-command "$dom" '{"execute":"guest-fsfreeze-status"}' 2>&1 | tr -d '\\n')
  echo "$op start $(date +%s%N) $status" >> ${log}
  if [ -e ${holdFile} ]; then
    echo $$ > ${heldFile}.tmp && mv ${heldFile}.tmp ${heldFile}
    while [ -e ${holdFile} ]; do sleep 0.05; done
  fi
else
  echo "$op start $(date +%s%N) -" >> ${log}
fi
${realVirsh} "$@"
rc=$?
echo "$op end $(date +%s%N) $rc" >> ${log}
exit $rc
`;
  writeFileSync(join(binDir, 'virsh'), script);
  chmodSync(join(binDir, 'virsh'), 0o755);
  return {
    binDir,
    hold: () => { rmSync(heldFile, { force: true }); writeFileSync(holdFile, ''); },
    release: () => rmSync(holdFile, { force: true }),
    waitHeld: async (timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!existsSync(heldFile)) {
        if (Date.now() > deadline) throw new Error(`no backup-begin reached the virsh wrapper within ${timeoutMs} ms`);
        await sleep(50);
      }
      return Number(readFileSync(heldFile, 'utf8').trim());
    },
    events: () => existsSync(log)
      ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((line) => {
        const [op, phase, ns, ...rest] = line.split(' ');
        return { op: op!, phase: phase!, atMs: Number(BigInt(ns!) / 1000n) / 1000, detail: rest.join(' ') };
      })
      : [],
    clear: () => rmSync(log, { force: true }),
  };
}

/** PATH with the spy first. */
export function pathWithSpy(spy: VirshSpy): string {
  return `${spy.binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`;
}
