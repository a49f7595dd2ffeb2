// Decoded chunks kept in memory for the NBD export, least recently used first out, bounded
// by their bytes. Keyed by chunk id, so a chunk shared by several disks (clones of one
// template) or by several places of one disk is held once.

export class DecodedChunkCache {
  readonly capacityBytes: number;
  private readonly entries = new Map<string, Buffer>();
  private heldBytes = 0;
  hits = 0;
  misses = 0;

  constructor(capacityBytes: number) {
    this.capacityBytes = capacityBytes;
  }

  get sizeBytes(): number {
    return this.heldBytes;
  }

  get(key: string): Buffer | undefined {
    const chunk = this.entries.get(key);
    if (!chunk) { this.misses++; return undefined; }
    // Map keeps insertion order: re-inserting makes this the most recently used.
    this.entries.delete(key);
    this.entries.set(key, chunk);
    this.hits++;
    return chunk;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  set(key: string, chunk: Buffer): void {
    if (chunk.length > this.capacityBytes) return;
    const old = this.entries.get(key);
    if (old) { this.entries.delete(key); this.heldBytes -= old.length; }
    this.entries.set(key, chunk);
    this.heldBytes += chunk.length;
    for (const [k, v] of this.entries) {
      if (this.heldBytes <= this.capacityBytes) break;
      this.entries.delete(k);
      this.heldBytes -= v.length;
    }
  }
}
