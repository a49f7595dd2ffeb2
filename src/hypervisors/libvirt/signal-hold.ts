// While a guest's filesystems are frozen, a signal must not end vmbak before the thaw: qemu-ga
// on Linux never thaws by itself, so every write in the guest would block until someone ran
// `virsh domfsthaw`. During a freeze window SIGINT, SIGTERM and SIGHUP that would end the
// process (nobody else listens: the second Ctrl-C, a hang-up) are held and raised again when
// the last open window closes, right after the thaw. A signal the backup's own handler takes
// (the first SIGINT/SIGTERM aborts the run cleanly) passes through as usual.

const HELD_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

let openWindows = 0;
let held: NodeJS.Signals | null = null;

// Prepended, so it runs before a handler that removes itself and still sees it.
const listener = (signal: NodeJS.Signals): void => {
  if (process.listenerCount(signal) === 1) held ??= signal;
};

/** Opens a freeze window; the returned function closes it (idempotent). */
export function holdFatalSignals(): () => void {
  if (openWindows++ === 0) for (const s of HELD_SIGNALS) process.prependListener(s, listener);
  let closed = false;
  return () => {
    if (closed) return;
    closed = true;
    if (--openWindows > 0) return;
    for (const s of HELD_SIGNALS) process.off(s, listener);
    const signal = held;
    held = null;
    if (signal && process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
}
