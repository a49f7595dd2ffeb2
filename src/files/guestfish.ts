// One guestfish process per browsing session, fed commands on stdin. Untrusted guest
// filesystems are parsed inside libguestfs's appliance VM, never by the host kernel. Each
// command is sent with the `-` prefix (guestfish goes on after an error) and followed by an
// `echo` of a random sentinel; guestfish's stderr is merged into its stdout (it flushes after
// each command), so everything between two sentinels — output or error lines — belongs to
// the command before the second one.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { VmbakError } from '../core/index.ts';
import { libguestfsEnv } from './accel.ts';

export interface GuestfishOptions {
  /** Calls onIdle (default: close()) after this long without a command (browsing sessions of the API). */
  readonly idleTimeoutMs?: number;
  readonly onIdle?: () => void;
}

export interface CommandResult {
  readonly lines: string[];
  /** The libguestfs error text, or null when the command succeeded. */
  readonly error: string | null;
}

/** Lines of these shapes are guestfish reporting a failed command (libguestfs's errors carry
 *  the script line; guestfish's own usage errors name the command). */
const ERROR_LINE = /^(?:\*stdin\*:\d+: (?:libguestfs: error: )?|error: )(.*)$/;
const USAGE_ERROR = /^[a-z0-9-]+: (?:unknown optional argument|incorrect number of arguments|.*: (?:expecting|invalid))/;

export class Guestfish {
  private readonly child: ChildProcess;
  private readonly sentinel = `@@vmbak-${randomBytes(8).toString('hex')}@@`;
  private buffered = '';
  private waiters: { resolve: (r: CommandResult) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private exited: Error | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly idleTimeoutMs: number | null;
  private readonly onIdle: () => void;

  private constructor(env: NodeJS.ProcessEnv, opts: GuestfishOptions) {
    this.idleTimeoutMs = opts.idleTimeoutMs ?? null;
    this.onIdle = opts.onIdle ?? (() => { void this.close(); });
    // `sh` only to merge stderr into stdout and to tell "not installed" (127) apart.
    this.child = spawn('/bin/sh', ['-c', 'command -v guestfish >/dev/null || exit 127; exec guestfish --ro 2>&1'], {
      env, stdio: ['pipe', 'pipe', 'ignore'],
    });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => this.onData(d));
    this.child.stdin!.on('error', () => {});
    this.child.on('close', (code) => this.onExit(code));
    this.child.on('error', (err) => this.onExit(null, err));
  }

  static async start(opts: GuestfishOptions = {}): Promise<Guestfish> {
    return new Guestfish(await libguestfsEnv(), opts);
  }

  /** Runs one command; resolves with its output lines or its error text. */
  run(command: string, timeoutMs = 60_000): Promise<CommandResult> {
    return this.batch([command], timeoutMs).then((r) => r[0]!);
  }

  /** Sends several commands at once (pipelined) and resolves with each one's result, in order. */
  batch(commands: readonly string[], timeoutMs = 60_000): Promise<CommandResult[]> {
    const next = this.chain.then(() => this.send(commands, timeoutMs));
    this.chain = next.catch(() => {});
    return next;
  }

  /** Like run(), but a failed command throws FILE_BROWSER_FAILED. */
  async must(command: string, timeoutMs = 60_000): Promise<string[]> {
    const r = await this.run(command, timeoutMs);
    if (r.error !== null) throw new VmbakError('FILE_BROWSER_FAILED', { detail: r.error });
    return r.lines;
  }

  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.exited) return;
    const closed = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
    this.child.stdin!.end('-exit\n');
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await closed;
    clearTimeout(killer);
  }

  private send(commands: readonly string[], timeoutMs: number): Promise<CommandResult[]> {
    if (this.exited) return Promise.reject(this.exited);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const results = commands.map(() => new Promise<CommandResult>((resolve, reject) => {
      // A command that does not answer in time means a hostile or broken filesystem: end the
      // appliance rather than hang.
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        this.failAll(new VmbakError('FILE_BROWSER_FAILED', { detail: `a command took longer than ${Math.round(timeoutMs / 1000)} s; stopped the appliance` }));
      }, timeoutMs);
      this.waiters.push({ resolve, reject, timer });
    }));
    this.child.stdin!.write(commands.map((c) => `-${c}\necho ${this.sentinel}\n`).join(''));
    return Promise.all(results).finally(() => this.armIdleTimer());
  }

  private armIdleTimer(): void {
    if (this.idleTimeoutMs === null || this.exited || this.waiters.length > 0) return;
    this.idleTimer = setTimeout(this.onIdle, this.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    let end: number;
    while ((end = this.buffered.indexOf(`${this.sentinel}\n`)) >= 0) {
      const text = this.buffered.slice(0, end);
      this.buffered = this.buffered.slice(end + this.sentinel.length + 1);
      const waiter = this.waiters.shift();
      if (!waiter) continue;
      clearTimeout(waiter.timer);
      waiter.resolve(parseOutput(text));
    }
  }

  private onExit(code: number | null, err?: Error): void {
    if (this.exited) return;
    const detail = this.buffered.trim().split('\n').slice(-3).join('; ');
    this.exited = code === 127
      ? new VmbakError('TOOL_MISSING', { tool: 'guestfish', hint: 'apt-get install libguestfs-tools, or run scripts/install-system-deps.sh' })
      : new VmbakError('FILE_BROWSER_FAILED', { detail: `guestfish ended (${err?.message ?? `exit ${code}`})${detail ? `: ${detail}` : ''}` });
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.failAll(this.exited);
  }

  private failAll(err: Error): void {
    for (const w of this.waiters.splice(0)) { clearTimeout(w.timer); w.reject(err); }
  }
}

function parseOutput(text: string): CommandResult {
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const errors = lines.flatMap((l) => {
    if (USAGE_ERROR.test(l)) return [l];
    const m = ERROR_LINE.exec(l);
    return m ? [m[1]!] : [];
  });
  return { lines, error: errors.length > 0 ? errors.join('; ') : null };
}

/** A guestfish string argument: double-quoted, with every byte outside plain ASCII escaped. */
export function quote(value: string): string {
  let out = '"';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += byte >= 0x20 && byte < 0x7f && ch !== '"' && ch !== '\\' ? ch : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `${out}"`;
}
