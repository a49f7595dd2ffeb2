import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isVmbakError } from '../core/index.ts';
import { openRawFileReader } from './raw-file-reader.ts';

// A shared WebAssembly memory is page-aligned, as the engine's batch slots are.
declare const WebAssembly: { Memory: new (d: { initial: number; maximum: number; shared: boolean }) => { readonly buffer: SharedArrayBuffer } };
const alignedBuffer = (bytes: number): Buffer => Buffer.from(new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536), maximum: Math.ceil(bytes / 65536), shared: true }).buffer);

async function withImage(dir: string, fn: (file: string, data: Buffer) => Promise<void>): Promise<void> {
  const root = await mkdtemp(path.join(dir, 'vmbak-raw-reader-'));
  try {
    const data = randomBytes(3 << 20);
    const file = path.join(root, 'disk.raw');
    await writeFile(file, data);
    await fn(file, data);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

for (const [where, dir] of [['a disk filesystem (O_DIRECT)', tmpdir()], ['tmpfs (page cache)', '/dev/shm']] as const) {
  test(`raw file reader on ${where}: aligned, unaligned and slot reads return the file's bytes`, { skip: !existsSync(dir) }, async () => {
    await withImage(dir, async (file, data) => {
      const reader = await openRawFileReader(file);
      try {
        const slot = alignedBuffer(2 << 20);
        const got = await reader.read(1 << 20, 2 << 20, slot);
        assert.equal(got.buffer, slot.buffer, 'read into the given buffer');
        assert.ok(got.equals(data.subarray(1 << 20, 3 << 20)));
        assert.ok((await reader.read(4096 + 17, 1000)).equals(data.subarray(4113, 5113)), 'unaligned read');
        // A malloc'd buffer is not page-aligned: O_DIRECT refuses it and the page cache serves.
        assert.ok((await reader.read(65536, 65536, Buffer.alloc(65536))).equals(data.subarray(65536, 131072)));
        assert.ok((await reader.read(0, 65536, slot)).equals(data.subarray(0, 65536)), 'still right after falling back');
      } finally {
        await reader.close();
      }
    });
  });
}

test('raw file reader: a read past the end of the file is an IMAGE_READ error', async () => {
  await withImage(tmpdir(), async (file) => {
    const reader = await openRawFileReader(file);
    try {
      await assert.rejects(reader.read(3 << 20, 4096), (err: unknown) => isVmbakError(err, 'IMAGE_READ'));
    } finally {
      await reader.close();
    }
  });
});
