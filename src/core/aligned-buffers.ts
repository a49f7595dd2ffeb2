// Buffers that start on a page boundary, for writes that bypass the page cache. O_DIRECT needs
// the memory address, the file offset and the length aligned to the device's block size.
// Node's Buffers come from malloc and start 16 bytes into a page; WebAssembly memory is mapped
// by V8 in whole pages, so its ArrayBuffer starts on one.

/** The alignment direct writes keep to: a page, a multiple of every common logical block size. */
export const DIRECT_IO_ALIGN_BYTES = 4096;

// The one WebAssembly API used here; the project's TypeScript libs (es2024, node) do not declare it.
declare const WebAssembly: { Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer } };

const WASM_PAGE_BYTES = 65536;
const pageAligned = new WeakSet<ArrayBufferLike>();

/** A buffer of `bytes` whose first byte is page-aligned (zero-filled, never detachable). */
export function pageAlignedBuffer(bytes: number): Buffer {
  const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / WASM_PAGE_BYTES)) });
  pageAligned.add(memory.buffer);
  return Buffer.from(memory.buffer, 0, bytes);
}

/** True when data is a view made from pageAlignedBuffer() that starts on an aligned offset. */
export function isPageAligned(data: Uint8Array): boolean {
  return pageAligned.has(data.buffer) && data.byteOffset % DIRECT_IO_ALIGN_BYTES === 0;
}
