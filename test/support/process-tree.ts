// Signals a test server and every process it forked (sessions fork their own helpers, e.g.
// vsftpd's unprivileged child), so killing or freezing a server really silences all of it.

import { readFileSync, readdirSync } from 'node:fs';

/** pid's descendants, children before grandchildren, read from /proc. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // Fields after the parenthesised command name: state, ppid, …
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const next = queue.shift()!;
    out.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return out;
}

/** Sends signal to pid and all its descendants; the root is frozen first when stopping or killing. */
export function signalTree(pid: number, signal: NodeJS.Signals): void {
  const send = (p: number): void => { try { process.kill(p, signal); } catch { /* already gone */ } };
  if (signal === 'SIGCONT') {
    send(pid);
    for (const p of descendants(pid)) send(p);
    return;
  }
  // A frozen root forks nothing new while its tree is signalled.
  try { process.kill(pid, 'SIGSTOP'); } catch { /* already gone */ }
  for (const p of descendants(pid)) send(p);
  send(pid);
}
