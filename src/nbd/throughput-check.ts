// Hand-run throughput check (not a test: timings on shared CI boxes are noise). Serves a
// raw image with qemu-nbd and reads it all with N reads of M MiB in flight, the way the
// backup engine will. Usage:
//   node src/nbd/throughput-check.ts IMAGE [inFlight=8] [readMiB=4]
// Run it twice: the first pass may still pull the image into the page cache.

import { spawn } from 'node:child_process';
import { mkdtemp, rm, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NbdClient } from './index.ts';

const [image, inFlightArg = '8', readMiBArg = '4'] = process.argv.slice(2);
if (!image) { console.error('usage: throughput-check.ts IMAGE [inFlight] [readMiB]'); process.exit(2); }
const inFlight = Number(inFlightArg);
const readBytes = Number(readMiBArg) * 1024 * 1024;

const dir = await mkdtemp(path.join(tmpdir(), 'vmbak-tput-'));
const socketPath = path.join(dir, 'nbd.sock');
const server = spawn('qemu-nbd', ['--read-only', '-f', 'raw', '-k', socketPath, image], { stdio: 'inherit' });
for (let i = 0; i < 100; i++) {
  if (await access(socketPath).then(() => true, () => false)) break;
  await sleep(20);
}
const client = await NbdClient.connectUnix(socketPath);
const startMs = performance.now();
let nextOffset = 0;
let totalBytes = 0;
const worker = async () => {
  while (nextOffset < client.sizeBytes) {
    const offset = nextOffset;
    nextOffset += readBytes;
    const data = await client.read(offset, Math.min(readBytes, client.sizeBytes - offset));
    totalBytes += data.length;
  }
};
await Promise.all(Array.from({ length: inFlight }, worker));
const elapsedMs = performance.now() - startMs;
await client.close();
server.kill();
await rm(dir, { recursive: true, force: true });
console.log(`${(totalBytes / 2 ** 20).toFixed(0)} MiB in ${elapsedMs.toFixed(0)} ms = ${(totalBytes / elapsedMs / 1e6).toFixed(2)} GB/s ` +
  `(${inFlight} x ${readBytes / 2 ** 20} MiB in flight)`);
