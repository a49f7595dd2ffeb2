// Browsing sessions of the API: one appliance per backup being browsed, shared by every
// request for that backup and closed after an idle timeout (an appliance costs ~15 s to
// start and ~500 MB of RAM, so the console's clicks through folders must not start one each,
// nor may a forgotten tab keep one forever). At most `maxSessions` run at once; opening one
// more closes the least recently used idle one, or is refused (503, retryable) when all work.

import type { JobStore } from './job-store.ts';
import { VmbakError } from '../core/index.ts';
import { openFileBrowser, type FileBrowser } from '../files/index.ts';
import type { Repository } from '../repository/index.ts';
import { repositoryHandles } from './repositories.ts';

export interface FileSessionOptions {
  readonly idleTimeoutMs: number;
  readonly maxSessions: number;
}

interface Session {
  readonly opened: Promise<{ browser: FileBrowser; repo: Repository }>;
  timer: NodeJS.Timeout | null;
  busy: number;
  usedMs: number;
}

export class FileSessions {
  readonly #sessions = new Map<string, Session>();

  private readonly store: JobStore;
  private readonly opts: FileSessionOptions;

  constructor(store: JobStore, opts: FileSessionOptions) {
    this.store = store;
    this.opts = opts;
  }

  /** Runs `work` on the backup's session, opening one if none is alive. */
  async with<T>(repository: string, backupId: string, work: (b: FileBrowser, repo: Repository) => Promise<T>): Promise<T> {
    const key = `${repository}\0${backupId}`;
    let session = this.#sessions.get(key);
    if (!session) {
      await this.#makeRoom();
      session = { opened: this.#open(repository, backupId), timer: null, busy: 0, usedMs: Date.now() };
      this.#sessions.set(key, session);
      // A session that failed to open is forgotten, so the next request tries afresh.
      session.opened.catch(() => this.#sessions.delete(key));
    }
    if (session.timer) clearTimeout(session.timer);
    session.busy++;
    try {
      const { browser, repo } = await session.opened;
      return await work(browser, repo);
    } finally {
      session.busy--;
      session.usedMs = Date.now();
      if (session.busy === 0 && this.#sessions.get(key) === session) {
        session.timer = setTimeout(() => { void this.#close(key); }, this.opts.idleTimeoutMs);
        session.timer.unref();
      }
    }
  }

  get size(): number {
    return this.#sessions.size;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#sessions.keys()].map((k) => this.#close(k)));
  }

  async #open(repository: string, backupId: string): Promise<{ browser: FileBrowser; repo: Repository }> {
    const [handle] = await repositoryHandles(this.store, [repository]);
    const repo = await handle!.open();
    try {
      const backup = await repo.readManifest(backupId);
      return { browser: await openFileBrowser({ repo, backup }), repo };
    } catch (err) {
      await repo.target.close().catch(() => {});
      throw err;
    }
  }

  async #makeRoom(): Promise<void> {
    if (this.#sessions.size < this.opts.maxSessions) return;
    const idle = [...this.#sessions].filter(([, s]) => s.busy === 0).sort((a, b) => a[1].usedMs - b[1].usedMs)[0];
    // Every appliance is working for someone: refuse rather than start more than the host can carry.
    if (!idle) throw new VmbakError('FILE_BROWSER_BUSY', { count: this.opts.maxSessions });
    await this.#close(idle[0]);
  }

  async #close(key: string): Promise<void> {
    const session = this.#sessions.get(key);
    if (!session) return;
    this.#sessions.delete(key);
    if (session.timer) clearTimeout(session.timer);
    const opened = await session.opened.catch(() => null);
    if (!opened) return;
    await opened.browser.close().catch(() => {});
    await opened.repo.target.close().catch(() => {});
  }
}
