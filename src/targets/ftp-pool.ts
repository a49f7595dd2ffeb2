// A small pool of basic-ftp clients for one FTP target. An FTP control connection carries
// one command at a time, so parallelism means several logins; each client is lent to one
// operation at a time. A client that failed mid-command is closed rather than reused,
// because its control channel may be out of step.

import { readFileSync } from 'node:fs';
import { getCACertificates } from 'node:tls';
import { Client } from 'basic-ftp';
import { VmbakError } from '../core/index.ts';
import type { TargetOptions, TargetSecrets } from './target-options.ts';
import { mapFtpError } from './ftp-errors.ts';

export interface FtpEndpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string | null;
  readonly secure: boolean;
  readonly displayUrl: string;
}

function ftpPassword(displayUrl: string, env: TargetSecrets = process.env): string | undefined {
  if (env.VMBAK_FTP_PASSWORD) return env.VMBAK_FTP_PASSWORD;
  const file = env.VMBAK_FTP_PASSWORD_FILE;
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new VmbakError('TARGET_DENIED', { target: displayUrl, detail: `cannot read VMBAK_FTP_PASSWORD_FILE ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` });
  }
}

/** The system store plus Node's bundled roots, plus VMBAK_CA_FILE when given. */
function trustedCas(): string[] {
  const cas = [...getCACertificates('default'), ...getCACertificates('system')];
  if (process.env.VMBAK_CA_FILE) cas.push(readFileSync(process.env.VMBAK_CA_FILE, 'utf8'));
  return cas;
}

export class FtpPool {
  private readonly endpoint: FtpEndpoint;
  private readonly options: TargetOptions;
  private readonly idle: Client[] = [];
  private open = 0;
  private readonly waiters: Array<(c: Client | null) => void> = [];

  constructor(endpoint: FtpEndpoint, options: TargetOptions) {
    this.endpoint = endpoint;
    this.options = options;
  }

  /** Runs fn with a client of its own; a failure closes that client. */
  async use<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.acquire();
    let healthy = false;
    try {
      const result = await fn(client);
      healthy = true;
      return result;
    } finally {
      this.release(client, healthy && !client.closed);
    }
  }

  /** Closes a client that was left mid-transfer on purpose (an early-ended ranged read). */
  discard(client: Client): void {
    client.close();
  }

  async close(): Promise<void> {
    for (const c of this.idle.splice(0)) c.close();
  }

  private async acquire(): Promise<Client> {
    const ready = this.idle.pop();
    if (ready) return ready;
    if (this.open < this.options.connections) {
      this.open++;
      try {
        return await this.connect();
      } catch (err) {
        this.open--;
        this.wakeOne(null);
        throw err;
      }
    }
    const handed = await new Promise<Client | null>((resolve) => this.waiters.push(resolve));
    return handed ?? await this.acquire();
  }

  private release(client: Client, reusable: boolean): void {
    if (!reusable) {
      client.close();
      this.open--;
      this.wakeOne(null);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter(client);
    else this.idle.push(client);
  }

  private wakeOne(client: Client | null): void {
    this.waiters.shift()?.(client);
  }

  private async connect(): Promise<Client> {
    const ep = this.endpoint;
    const client = new Client(this.options.timeoutMs);
    try {
      await client.access({
        host: ep.host,
        port: ep.port,
        user: ep.user ?? 'anonymous',
        password: ftpPassword(ep.displayUrl, this.options.env) ?? (ep.user ? '' : 'anonymous@'),
        secure: ep.secure,
        secureOptions: ep.secure ? { ca: trustedCas(), rejectUnauthorized: true } : undefined,
      });
      return client;
    } catch (err) {
      client.close();
      throw mapFtpError(ep.displayUrl, 'connect', '', err);
    }
  }
}
