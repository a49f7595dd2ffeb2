// The per-repository writer limit of one job runner: how many running jobs write to each
// repository, and whether a queued job's repositories all have room. One counter per
// controller: two controllers sharing a repository each allow the limit.

export class RepositoryWriters {
  private readonly counts = new Map<string, number>();
  readonly limit: number;

  constructor(limit = Infinity) {
    this.limit = limit;
  }

  /** Running jobs writing to the repository now. */
  of(repository: string): number {
    return this.counts.get(repository) ?? 0;
  }

  /** The first of the repositories already at the limit, or null when all have room. */
  firstFull(repositories: readonly string[]): string | null {
    return repositories.find((repo) => this.of(repo) >= this.limit) ?? null;
  }

  take(repositories: readonly string[]): void {
    for (const repo of repositories) this.counts.set(repo, this.of(repo) + 1);
  }

  release(repositories: readonly string[]): void {
    for (const repo of repositories) {
      const left = this.of(repo) - 1;
      if (left > 0) this.counts.set(repo, left);
      else this.counts.delete(repo);
    }
  }
}
