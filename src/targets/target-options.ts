// Options every remote target shares, read from the URL's query string
// (`?connections=4&limitMBps=50&timeoutMs=30000`), with the defaults that suit loopback and
// LAN alike. Unknown or malformed options are a TARGET_URL_INVALID, never ignored.

import { VmbakError } from '../core/index.ts';

export interface TargetOptions {
  /** Parallel connections (SFTP sessions, FTP clients) or parallel requests (S3, local). */
  readonly connections: number;
  /** Bandwidth limit in MB/s (10^6 bytes), or null for none. */
  readonly limitMBps: number | null;
  /** Connection set-up timeout. */
  readonly connectTimeoutMs: number;
  /** Longest silence allowed in one operation before it counts as dropped. */
  readonly timeoutMs: number;
  /**
   * Where the target's secrets are read (VMBAK_SFTP_PASSWORD, VMBAK_FTP_PASSWORD,
   * AWS_ACCESS_KEY_ID, …): the process environment, or a controller's stored credentials.
   */
  readonly env?: TargetSecrets;
}

/** Secrets by the environment variable names the CLI reads them from. */
export type TargetSecrets = Readonly<Record<string, string | undefined>>;

export const DEFAULT_TARGET_OPTIONS: TargetOptions = {
  connections: 4,
  limitMBps: null,
  connectTimeoutMs: 15_000,
  timeoutMs: 60_000,
};

const COMMON_KEYS = new Set(['connections', 'limitMBps', 'connectTimeoutMs', 'timeoutMs']);

/** Reads the shared options; `extraKeys` are scheme-specific ones the caller reads itself. */
export function parseTargetOptions(url: string, query: URLSearchParams, extraKeys: readonly string[] = []): TargetOptions {
  for (const key of query.keys()) {
    if (!COMMON_KEYS.has(key) && !extraKeys.includes(key)) {
      throw new VmbakError('TARGET_URL_INVALID', { url, detail: `unknown option ${key}` });
    }
  }
  const num = (key: string, min: number, max: number): number | null => {
    const text = query.get(key);
    if (text === null) return null;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min || value > max) {
      throw new VmbakError('TARGET_URL_INVALID', { url, detail: `${key} must be a number from ${min} to ${max}` });
    }
    return value;
  };
  const connections = num('connections', 1, 64);
  return {
    connections: connections === null ? DEFAULT_TARGET_OPTIONS.connections : Math.floor(connections),
    limitMBps: num('limitMBps', 0.001, 1e6),
    connectTimeoutMs: num('connectTimeoutMs', 100, 600_000) ?? DEFAULT_TARGET_OPTIONS.connectTimeoutMs,
    timeoutMs: num('timeoutMs', 100, 3_600_000) ?? DEFAULT_TARGET_OPTIONS.timeoutMs,
  };
}
