// A Target that fails on purpose (kopia's faulty storage): tests of how vmbak reacts to a
// failing, full, dropped, hanging or slow store, and of races between processes, use it
// instead of killing a server after a fixed sleep. It wraps a real back-end and follows
// fault-rules.ts. openTarget() puts it directly on the back-end, under the limits and
// deadline of ThrottledTarget, so a remote target's `hang` ends the way a dead server does
// (the deadline's TARGET_UNREACHABLE) while a local target's hangs for good.
//
// Actions: fail → TARGET_IO (or the rule's code); full → TARGET_FULL; drop → the
// TARGET_UNREACHABLE a back-end throws for a reset connection; hang → never settles (and,
// like an open socket, keeps the process alive until close()); hold → creates heldFile, waits
// until releaseFile exists, then makes the real call, so a test can stop a process between
// its check and its write; delay → waits ms, then makes the real call.

import { access, rename, writeFile } from 'node:fs/promises';
import { VmbakError, errorRegistry, type ByteRange, type ObjectInfo, type Target, type TargetSpace } from '../core/index.ts';
import { FaultPlan, type FaultOp, type FaultRule } from './fault-rules.ts';

const HOLD_POLL_MS = 20;

export class FaultyTarget implements Target {
  readonly displayUrl: string;
  readonly plan: FaultPlan;
  private readonly inner: Target;
  private readonly hangTimers = new Set<NodeJS.Timeout>();

  /** A plan shares its call counts with every target given it; rules get a plan of their own. */
  constructor(inner: Target, faults: FaultPlan | readonly FaultRule[]) {
    this.inner = inner;
    this.displayUrl = inner.displayUrl;
    this.plan = faults instanceof FaultPlan ? faults : new FaultPlan(faults);
  }

  put(name: string, data: Uint8Array): Promise<void> {
    return this.call('put', name, () => this.inner.put(name, data));
  }

  create(name: string, data: Uint8Array): Promise<boolean> {
    return this.call('create', name, () => this.inner.create(name, data));
  }

  get(name: string, range?: ByteRange): Promise<Buffer> {
    return this.call('get', name, () => this.inner.get(name, range));
  }

  list(prefix: string): Promise<ObjectInfo[]> {
    return this.call('list', prefix, () => this.inner.list(prefix));
  }

  delete(name: string): Promise<void> {
    return this.call('delete', name, () => this.inner.delete(name));
  }

  stat(name: string): Promise<ObjectInfo | null> {
    return this.call('stat', name, () => this.inner.stat(name));
  }

  async space(): Promise<TargetSpace | null> {
    return (await this.inner.space?.()) ?? null;
  }

  async prepare(): Promise<void> {
    await this.inner.prepare?.();
  }

  async close(): Promise<void> {
    for (const timer of this.hangTimers) clearInterval(timer);
    this.hangTimers.clear();
    await this.inner.close();
  }

  private async call<T>(op: FaultOp, object: string, real: () => Promise<T>): Promise<T> {
    const rule = this.plan.pick(op, object, this.displayUrl);
    if (!rule) return await real();
    switch (rule.action) {
      case 'fail': throw this.failure(rule, op, object);
      case 'full': throw new VmbakError('TARGET_FULL', { target: this.displayUrl, detail: `no space left (injected) during ${op} ${object}` });
      case 'drop': throw new VmbakError('TARGET_UNREACHABLE', { target: this.displayUrl, detail: `connection reset (injected) during ${op} ${object}` });
      case 'hang': return await this.hang();
      case 'hold': await this.hold(rule, op, object); return await real();
      case 'delay': await new Promise((r) => setTimeout(r, rule.ms)); return await real();
    }
  }

  private failure(rule: FaultRule, op: FaultOp, object: string): VmbakError {
    const code = rule.code ?? 'TARGET_IO';
    // Templates that name op and object need no repeat of them in the detail.
    const named = errorRegistry[code].message.includes('{object}');
    return new VmbakError(code, { target: this.displayUrl, op, object, detail: named ? 'injected fault' : `injected fault in ${op} ${object}` });
  }

  private hang(): Promise<never> {
    // The interval stands for the open socket of a request nobody answers.
    this.hangTimers.add(setInterval(() => {}, 60_000));
    return new Promise<never>(() => {});
  }

  private async hold(rule: FaultRule, op: FaultOp, object: string): Promise<void> {
    if (rule.heldFile) {
      // Written whole under a temporary name, then renamed: a test that sees the file reads all of it.
      const temporary = `${rule.heldFile}.${process.pid}.tmp`;
      await writeFile(temporary, `${process.pid} ${op} ${object}\n`);
      await rename(temporary, rule.heldFile);
    }
    for (;;) {
      const released = await access(rule.releaseFile!).then(() => true, () => false);
      if (released) return;
      await new Promise((r) => setTimeout(r, HOLD_POLL_MS));
    }
  }
}
