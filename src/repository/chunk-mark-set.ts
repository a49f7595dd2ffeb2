// The set of chunks gc marks as referenced, at 16 to 32 bytes per chunk rather than the ~100
// of a Set of id strings: a repository holding 1 TB of unique data in 64 KiB chunks (16 M
// chunks) marks them in 256 to 512 MiB. Only the first 8 bytes of each id are kept. Ids are uniformly random
// (SHA-256 / HMAC-SHA-256), and a collision can only make a dead chunk look referenced, which
// keeps it one more gc — never the other way round, so no referenced chunk is ever swept.

const EMPTY_HI = 0;
const EMPTY_LO = 0;
const MAX_LOAD = 0.5;

export class ChunkMarkSet {
  /** Open addressing with linear probing: slot i holds (hi[i], lo[i]); (0, 0) is empty. */
  private hi: Uint32Array;
  private lo: Uint32Array;
  private count = 0;

  constructor(expected = 1 << 16) {
    let capacity = 1 << 10;
    while (capacity * MAX_LOAD < expected) capacity *= 2;
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes of memory the table holds now. */
  get bytes(): number {
    return this.hi.byteLength + this.lo.byteLength;
  }

  add(chunkId: Uint8Array): void {
    if (this.count + 1 > this.hi.length * MAX_LOAD) this.grow();
    const [h, l] = keyOf(chunkId);
    if (this.insert(h, l)) this.count++;
  }

  has(chunkId: Uint8Array): boolean {
    const [h, l] = keyOf(chunkId);
    const mask = this.hi.length - 1;
    for (let i = l & mask; ; i = (i + 1) & mask) {
      const sh = this.hi[i]!;
      const sl = this.lo[i]!;
      if (sh === h && sl === l) return true;
      if (sh === EMPTY_HI && sl === EMPTY_LO) return false;
    }
  }

  /** Returns false when the key was there already. */
  private insert(h: number, l: number): boolean {
    const mask = this.hi.length - 1;
    for (let i = l & mask; ; i = (i + 1) & mask) {
      const sh = this.hi[i]!;
      const sl = this.lo[i]!;
      if (sh === h && sl === l) return false;
      if (sh === EMPTY_HI && sl === EMPTY_LO) {
        this.hi[i] = h;
        this.lo[i] = l;
        return true;
      }
    }
  }

  private grow(): void {
    const { hi, lo } = this;
    this.hi = new Uint32Array(hi.length * 2);
    this.lo = new Uint32Array(lo.length * 2);
    for (let i = 0; i < hi.length; i++) {
      if (hi[i] !== EMPTY_HI || lo[i] !== EMPTY_LO) this.insert(hi[i]!, lo[i]!);
    }
  }
}

/** The id's first 8 bytes as two 32-bit halves; the empty key stands in for (0, 1). */
function keyOf(id: Uint8Array): [number, number] {
  const h = (id[0]! | (id[1]! << 8) | (id[2]! << 16) | (id[3]! << 24)) >>> 0;
  const l = (id[4]! | (id[5]! << 8) | (id[6]! << 16) | (id[7]! << 24)) >>> 0;
  return h === EMPTY_HI && l === EMPTY_LO ? [0, 1] : [h, l];
}
