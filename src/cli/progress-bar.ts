// The live progress line on a terminal: bytes read, new bytes stored, rate, ETA, dedup ratio.
// Drawn on stderr so stdout stays clean for --json; nothing is drawn when stderr is not a TTY.

import { formatBytes, formatDuration } from '../core/index.ts';
import type { ProgressCounters } from '../engine/index.ts';

export function startProgressBar(progress: ProgressCounters, label: string, wanted = true): () => void {
  if (!wanted || process.stderr.isTTY !== true) return () => {};
  const draw = (): void => {
    const elapsedMs = Date.now() - progress.startedMs;
    const rate = elapsedMs > 0 ? (progress.bytesRead * 1000) / elapsedMs : 0;
    const left = Math.max(0, progress.bytesToRead - progress.bytesRead);
    const eta = rate > 0 && progress.bytesToRead > 0 ? formatDuration((left / rate) * 1000) : '-';
    const pct = progress.bytesToRead > 0 ? Math.min(100, (progress.bytesRead / progress.bytesToRead) * 100) : 0;
    const width = 24;
    const filled = Math.round((pct / 100) * width);
    const dedup = progress.bytesNew > 0 ? `${(progress.bytesRead / progress.bytesNew).toFixed(1)}×` : '-';
    const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct.toFixed(0)}% read ${formatBytes(progress.bytesRead)}`
      + ` new ${formatBytes(progress.bytesNew)} stored ${formatBytes(progress.bytesStored)} ${formatBytes(rate)}/s ETA ${eta} dedup ${dedup}`;
    process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns || 160) - 1)}`);
  };
  const timer = setInterval(draw, 250);
  return () => {
    clearInterval(timer);
    process.stderr.write('\r\x1b[K');
  };
}
