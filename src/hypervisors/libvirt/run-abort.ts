// The abort of the run this process is, as job control publishes it (SIGINT, SIGTERM, `vmbak
// jobs abort`, --max-pause). Hot sessions opened without a signal of their own use it, so an
// abort reaches a running pre-freeze hook instead of waiting for the hook's timeout.

let current: AbortSignal | null = null;

/** Publishes the run's abort signal; the returned function withdraws it again (idempotent). */
export function publishRunAbort(signal: AbortSignal): () => void {
  current = signal;
  return () => { if (current === signal) current = null; };
}

export function runAbortSignal(): AbortSignal | undefined {
  return current ?? undefined;
}
