// bench/limits.ts IMG OUT_TSV — the limits step of `npm run bench`: what each per-byte
// primitive of vmbak's pipeline costs on this machine, on this image's own data, one core.
//
// It uses the engine's own code and settings (64 KiB chunks, zstd level 1 through the reused
// frame context, HMAC-SHA-256 and AES-256-GCM with key objects, the 1/32 saving rule), so
// the figures are what vmbak's workers cannot go below, not what a CLI tool reaches.
//
// Pass 1 reads the image and counts its non-zero chunks (the ones the pipeline hashes,
// compresses and encrypts; zero chunks are holes). Pass 2 keeps an even sample of them (at
// most LIMITS_SAMPLE_MIB, 256 MiB by default) in memory. Each primitive then runs over the
// whole sample three times; its CPU time (process user+sys, which is this one thread
// plus V8's little background work) is taken as the median, so a busy machine costs less
// precision than wall time would. Costs are per plain non-zero byte.
//
// Writes OUT_TSV: name, value, unit. Run with Node 24 (node_modules/.bin/node).
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { splitMasterSecret, computeChunkId } from '../src/repository/thread-entry.ts';
import { sealInto, unseal, SEAL_OVERHEAD_BYTES } from '../src/repository/crypto.ts';
import { compressFrame, decompressFrame } from '../src/repository/zstd-context.ts';
import { DEFAULT_CHUNK_SIZE_BYTES, DEFAULT_COMPRESSION_LEVEL } from '../src/repository/config.ts';

const [img, outTsv] = process.argv.slice(2);
if (!img || !outTsv) {
  console.error('usage: limits.ts IMG OUT_TSV');
  process.exit(2);
}
const CHUNK = DEFAULT_CHUNK_SIZE_BYTES;
const LEVEL = DEFAULT_COMPRESSION_LEVEL;
const SAMPLE_BYTES = Number(process.env.LIMITS_SAMPLE_MIB ?? 256) * (1 << 20);
const READ_BYTES = 4 << 20;
const MIN_SAVING = 1 / 32; // as src/repository/codec.ts
const ZERO = Buffer.alloc(CHUNK);

/** Calls fn(chunk) for every non-zero chunk of the image, in order. */
function eachNonZeroChunk(fn: (chunk: Buffer, n: number) => void): { chunks: number; imageBytes: number } {
  const fd = openSync(img!, 'r');
  const buf = Buffer.allocUnsafe(READ_BYTES);
  let off = 0;
  let n = 0;
  try {
    for (;;) {
      const got = readSync(fd, buf, 0, READ_BYTES, off);
      if (got <= 0) break;
      for (let at = 0; at < got; at += CHUNK) {
        const chunk = buf.subarray(at, Math.min(got, at + CHUNK));
        if (chunk.equals(ZERO.subarray(0, chunk.length))) continue;
        fn(chunk, n++);
      }
      off += got;
    }
  } finally {
    closeSync(fd);
  }
  return { chunks: n, imageBytes: off };
}

const pass1 = eachNonZeroChunk(() => {});
const nonZeroBytes = pass1.chunks * CHUNK;
const stride = Math.max(1, Math.ceil(nonZeroBytes / SAMPLE_BYTES));
const sample: Buffer[] = [];
eachNonZeroChunk((chunk, n) => { if (n % stride === 0) sample.push(Buffer.from(chunk)); });
const sampleBytes = sample.reduce((s, c) => s + c.length, 0);

const keys = splitMasterSecret(randomBytes(64));
const ids = sample.map((c) => computeChunkId(keys, c));
// What the codec seals: payload type ‖ (zstd frame, or the data when zstd saves too little).
const payloads = sample.map((c) => {
  const frame = compressFrame(c, LEVEL);
  const zstd = frame.length < c.length * (1 - MIN_SAVING);
  return { zstd, body: Buffer.from(zstd ? frame : c) };
});
const TYPE = [Buffer.from([0]), Buffer.from([1])];
const blobs = payloads.map((p, i) => {
  const out = Buffer.allocUnsafe(1 + p.body.length + SEAL_OVERHEAD_BYTES);
  return out.subarray(0, sealInto(keys.encryptionKey, [TYPE[p.zstd ? 1 : 0]!, p.body], ids[i]!, out, 0));
});
const storedBytes = payloads.reduce((s, p) => s + 1 + p.body.length, 0);
const plainOut = Buffer.allocUnsafe(CHUNK);

function cpuSeconds(fn: () => void): number {
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = process.cpuUsage();
    fn();
    const d = process.cpuUsage(t0);
    runs.push((d.user + d.system) / 1e6);
  }
  return runs.sort((a, b) => a - b)[1]!;
}

const seal = Buffer.allocUnsafe(CHUNK + 1 + SEAL_OVERHEAD_BYTES);
const costs = {
  // all per plain (non-zero) byte, whatever the primitive's own input is
  hmac: cpuSeconds(() => { for (const c of sample) computeChunkId(keys, c); }),
  compress: cpuSeconds(() => { for (const c of sample) compressFrame(c, LEVEL); }),
  encrypt: cpuSeconds(() => { payloads.forEach((p, i) => sealInto(keys.encryptionKey, [TYPE[p.zstd ? 1 : 0]!, p.body], ids[i]!, seal, 0)); }),
  decrypt: cpuSeconds(() => { blobs.forEach((b, i) => { if (!unseal(keys.encryptionKey, b, ids[i]!)) throw new Error('unseal failed'); }); }),
  decompress: cpuSeconds(() => {
    payloads.forEach((p, i) => {
      if (!p.zstd) { p.body.copy(plainOut); return; }
      if (!decompressFrame(p.body, sample[i]!.length)) throw new Error('decompress failed');
    });
  }),
};

const rows: [string, number | string, string][] = [
  ['chunk_bytes', CHUNK, 'B'],
  ['zstd_level', LEVEL, ''],
  ['image_bytes', pass1.imageBytes, 'B'],
  ['nonzero_bytes', nonZeroBytes, 'B'],
  ['sample_bytes', sampleBytes, 'B'],
  ['stored_ratio', (storedBytes / sampleBytes).toFixed(4), 'stored/plain'],
];
for (const [name, s] of Object.entries(costs)) {
  rows.push([`${name}_ns_per_B`, ((s / sampleBytes) * 1e9).toFixed(4), 'ns/B']);
  rows.push([`${name}_MBps`, (sampleBytes / 1e6 / s).toFixed(0), 'MB/s one core']);
}
writeFileSync(outTsv, rows.map((r) => r.join('\t')).join('\n') + '\n');
for (const r of rows) console.log(`[limits] ${r[0]} = ${r[1]} ${r[2]}`);
