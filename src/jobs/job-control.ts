// Process-level control of a running backup: SIGUSR1 pauses it (no new reads, the libvirt job
// is held), SIGUSR2 resumes, SIGINT/SIGTERM abort (no manifest, checkpoint and scratch files
// removed). A pause longer than --max-pause aborts the same way. The state is published in a
// job record so `vmbak jobs …` can find and signal this process. The API will drive the same
// PauseGate and AbortController later.

import { randomBytes } from 'node:crypto';
import { VmbakError, formatDuration } from '../core/index.ts';
import { PauseGate, type ProgressCounters } from '../engine/index.ts';
import { hostName, processStartTicks } from '../host/index.ts';
import { jobOwnerStatus, jobsDir, readJobRecords, removeJobRecord, writeJobRecord, type JobRecord } from './job-records.ts';

export interface JobControl {
  readonly jobId: string;
  readonly signal: AbortSignal;
  readonly gate: PauseGate;
  /** Removes the job record and the signal handlers. */
  stop(): void;
}

export interface JobControlOptions {
  readonly command: string;
  readonly vms: readonly string[];
  readonly progress: ProgressCounters;
  readonly maxPauseMs: number;
  readonly stateDir?: string;
  /** How often bytes read are written into the record. */
  readonly publishEveryMs?: number;
}

export function startJobControl(opts: JobControlOptions): JobControl {
  const jobId = `j${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const dir = jobsDir(opts.stateDir);
  const startedAt = new Date().toISOString();
  const pidStartTicks = processStartTicks(process.pid);
  const controller = new AbortController();
  let stopped = false;
  // Records of killed runs (kill -9 cannot clean up) go with the next start, like run records.
  try {
    for (const r of readJobRecords(dir)) if (jobOwnerStatus(r) === 'dead') removeJobRecord(dir, r.jobId);
  } catch { /* status only */ }

  const publish = (): void => {
    if (stopped) return;
    const record: JobRecord = {
      version: 1, jobId, host: hostName(), pid: process.pid, pidStartTicks, startedAt, command: opts.command, vms: opts.vms,
      state: controller.signal.aborted ? 'aborting' : gate.paused ? 'paused' : 'running',
      pausedAt: gate.pausedAtMs === null ? null : new Date(gate.pausedAtMs).toISOString(),
      maxPauseMs: opts.maxPauseMs, bytesRead: opts.progress.bytesRead, bytesToRead: opts.progress.bytesToRead,
      updatedAt: new Date().toISOString(),
    };
    try { writeJobRecord(dir, record); } catch { /* status only: a full or read-only state dir must not fail the backup */ }
  };
  const gate = new PauseGate({
    maxPauseMs: opts.maxPauseMs,
    onExpire: () => controller.abort(new VmbakError('PAUSE_TOO_LONG', { limit: formatDuration(opts.maxPauseMs) })),
    onChange: (paused) => {
      process.stderr.write(paused ? `vmbak: paused (resume with SIGUSR2 or vmbak jobs resume ${jobId}; aborted after ${formatDuration(opts.maxPauseMs)})\n` : 'vmbak: resumed\n');
      publish();
    },
  });
  const onAbort = (signal: NodeJS.Signals): void => {
    process.off('SIGINT', onAbort);
    process.off('SIGTERM', onAbort);
    controller.abort(new VmbakError('ABORTED', { signal }));
    publish();
  };
  const onPause = (): void => { gate.pause(); };
  const onResume = (): void => { gate.resume(); };
  process.on('SIGINT', onAbort);
  process.on('SIGTERM', onAbort);
  process.on('SIGUSR1', onPause);
  process.on('SIGUSR2', onResume);
  publish();
  const timer = setInterval(publish, opts.publishEveryMs ?? 500);
  timer.unref();

  return {
    jobId,
    signal: controller.signal,
    gate,
    stop: () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      gate.close();
      process.off('SIGUSR1', onPause);
      process.off('SIGUSR2', onResume);
      removeJobRecord(dir, jobId);
    },
  };
}

/** Parses 30m, 90s, 2h, 1h30m or plain seconds into milliseconds. */
export function parseDurationMs(text: string, option: string): number {
  const units: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new VmbakError('USAGE', { detail: `${option} ${text}: give a duration such as 90s, 30m or 2h` });
  }
  return parts.reduce((ms, p) => ms + Number(p[1]) * units[p[2]!]!, 0);
}
