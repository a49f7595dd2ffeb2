// Live counters of a running job, read by the progress display and the API's job events:
// the job's totals, and one entry per disk being (or done being) backed up, so the console
// can draw a bar per disk. The disk entries are plain objects the pipeline adds to in place.

/** One disk's share of a job's reading; `finishedMs` is set when its last chunk is stored. */
export interface DiskProgress {
  readonly vm: string;
  readonly disk: string;
  bytesToRead: number;
  bytesRead: number;
  readonly startedMs: number;
  finishedMs: number | null;
}

export interface ProgressCounters {
  /** Bytes the whole job is expected to read (allocated data), for rate and ETA. */
  bytesToRead: number;
  bytesRead: number;
  bytesNew: number;
  bytesStored: number;
  readonly startedMs: number;
  /** The disks started so far, in the order they started. */
  readonly disks: DiskProgress[];
}

export function newProgress(nowMs: number): ProgressCounters {
  return { bytesToRead: 0, bytesRead: 0, bytesNew: 0, bytesStored: 0, startedMs: nowMs, disks: [] };
}
