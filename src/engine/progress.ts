// Live counters of a running job, read by the progress display and (later) the API.

export interface ProgressCounters {
  /** Bytes the whole job is expected to read (allocated data), for rate and ETA. */
  bytesToRead: number;
  bytesRead: number;
  bytesNew: number;
  bytesStored: number;
  readonly startedMs: number;
}

export function newProgress(nowMs: number): ProgressCounters {
  return { bytesToRead: 0, bytesRead: 0, bytesNew: 0, bytesStored: 0, startedMs: nowMs };
}
