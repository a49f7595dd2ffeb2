// How the long-running commands (serve, agent) end: SIGTERM or SIGINT runs their clean stop
// once (running jobs aborted, the hypervisor left clean), logs it, flushes the log and exits 0.

interface StopLog {
  info(fields: object, message: string): void;
  flush(): void;
}

export function stopOnSignals(log: StopLog, stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping: Promise<void> | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    stopping ??= (async () => {
      log.info({ signal }, 'stopping: aborting running jobs');
      await stop(signal);
      log.info({}, 'stopped');
      log.flush();
      process.exit(0);
    })();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
