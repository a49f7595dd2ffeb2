// Picks the guest writes of the hot-VM benchmark: `percent` % of an image's used (allocated)
// bytes, either as 64 KiB runs or as scattered 4 KiB writes, at seeded random offsets inside
// its data extents. Prints one qemu-io command per line ("write -P 0xNN OFFSET LENGTH"); the
// last line is "# bytes N" (the bytes written, distinct ranges).
// usage: node bench/hot-vm-writes.ts IMAGE.raw WRITE_BYTES PERCENT SEED

import { execFileSync } from 'node:child_process';

const [image, writeArg, percentArg, seedArg] = process.argv.slice(2);
const writeBytes = Number(writeArg);
const percent = Number(percentArg ?? 1);
let state = Number(seedArg ?? 1) >>> 0 || 1;
const random = (): number => { state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0; return state / 2 ** 32; };

const map = JSON.parse(execFileSync('qemu-img', ['map', '--output=json', '-f', 'raw', image!], { maxBuffer: 256 << 20 }).toString()) as { start: number; length: number; data: boolean }[];
const extents = map.filter((e) => e.data).map((e) => ({ start: Math.ceil(e.start / writeBytes) * writeBytes, end: Math.floor((e.start + e.length) / writeBytes) * writeBytes })).filter((e) => e.end > e.start);
const usedBytes = extents.reduce((n, e) => n + e.end - e.start, 0);
const count = Math.round(usedBytes * percent / 100 / writeBytes);
const slots = usedBytes / writeBytes;
const chosen = new Set<number>();
while (chosen.size < Math.min(count, slots)) chosen.add(Math.floor(random() * slots));
const out: string[] = [];
for (const slot of [...chosen].sort((a, b) => a - b)) {
  let at = slot * writeBytes;
  for (const e of extents) {
    if (at < e.end - e.start) { out.push(`write -P 0x${(1 + (slot % 254)).toString(16)} ${e.start + at} ${writeBytes}`); break; }
    at -= e.end - e.start;
  }
}
out.push(`# bytes ${chosen.size * writeBytes} used ${usedBytes}`);
process.stdout.write(`${out.join('\n')}\n`);
