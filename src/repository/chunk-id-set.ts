// Sets of chunk ids for the passes over a whole repository (gc's mark, check), at 2 to 4 times
// the key size per chunk rather than the ~100 bytes of a Set of id strings. Only a prefix of
// each id is kept: ids are uniformly random (SHA-256 / HMAC-SHA-256), so for n chunks a lookup
// of an id not in the set finds a stranger with the same prefix with probability n / 2^(8·k).
//
// - gc marks with 8-byte prefixes (16 to 32 bytes a chunk: 256 to 512 MiB for the 16 Mi chunks
//   of a TiB of unique data at 64 KiB). A shared prefix can only make a dead chunk look
//   referenced, which keeps it until a later gc; no referenced chunk is ever swept.
// - check looks chunks up with 16-byte prefixes, where a false "present" is beyond any
//   repository's reach (n / 2^128).

const MAX_LOAD = 0.5;

export class ChunkIdSet {
  /** Open addressing, linear probing: slot i is words [i·w, (i+1)·w); all zero is empty. */
  private table: Uint32Array;
  private readonly words: number;
  private count = 0;

  constructor(keyBytes: 8 | 16) {
    this.words = keyBytes / 4;
    this.table = new Uint32Array(1024 * this.words);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes of memory the table holds now. */
  get bytes(): number {
    return this.table.byteLength;
  }

  add(chunkId: Uint8Array): void {
    if (this.count + 1 > this.slots() * MAX_LOAD) this.grow();
    if (this.insert(this.keyOf(chunkId))) this.count++;
  }

  has(chunkId: Uint8Array): boolean {
    return this.find(this.keyOf(chunkId)) >= 0;
  }

  private slots(): number {
    return this.table.length / this.words;
  }

  /** The slot holding key, or -(empty slot + 1) where it would go. */
  private find(key: Uint32Array): number {
    const { table, words } = this;
    const mask = this.slots() - 1;
    for (let slot = key[0]! & mask; ; slot = (slot + 1) & mask) {
      const at = slot * words;
      let same = true;
      let empty = true;
      for (let w = 0; w < words; w++) {
        const v = table[at + w]!;
        if (v !== key[w]) same = false;
        if (v !== 0) empty = false;
      }
      if (same) return slot;
      if (empty) return -(slot + 1);
    }
  }

  /** Returns false when the key was there already. */
  private insert(key: Uint32Array): boolean {
    const found = this.find(key);
    if (found >= 0) return false;
    this.table.set(key, (-found - 1) * this.words);
    return true;
  }

  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(old.length * 2);
    for (let at = 0; at < old.length; at += this.words) {
      const key = old.subarray(at, at + this.words);
      if (key.some((v) => v !== 0)) this.insert(key);
    }
  }

  private readonly scratch = new Uint32Array(4);

  /** The id's prefix as 32-bit words; an all-zero prefix (the empty slot) stands in as ...0001. */
  private keyOf(id: Uint8Array): Uint32Array {
    const key = this.scratch.subarray(0, this.words);
    let zero = true;
    for (let w = 0; w < this.words; w++) {
      const b = w * 4;
      key[w] = (id[b]! | (id[b + 1]! << 8) | (id[b + 2]! << 16) | (id[b + 3]! << 24)) >>> 0;
      if (key[w] !== 0) zero = false;
    }
    if (zero) key[this.words - 1] = 1;
    return key;
  }
}
