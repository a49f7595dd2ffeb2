// Memory that starts on a page boundary, for I/O around the page cache. O_DIRECT needs the
// memory address, the file offset and the length aligned to the device's block size. Node's
// Buffers and SharedArrayBuffers come from malloc and start 16 bytes into a page; WebAssembly
// memory is mapped by V8 in whole pages, so its buffer starts on one.

/** The alignment direct I/O keeps to: a page, a multiple of every common logical block size. */
export const DIRECT_IO_ALIGN_BYTES = 4096;

// Node has WebAssembly; the project's type libraries (es2024, node) do not describe it.
declare const WebAssembly: {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => { readonly buffer: ArrayBuffer | SharedArrayBuffer };
};

const WASM_PAGE_BYTES = 65536;
const pageAligned = new WeakSet<ArrayBufferLike>();

function wasmMemory(bytes: number, shared: boolean): ArrayBuffer | SharedArrayBuffer {
  const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE_BYTES));
  const buffer = new WebAssembly.Memory({ initial: pages, maximum: pages, shared }).buffer;
  pageAligned.add(buffer);
  return buffer;
}

/** A buffer of `bytes` whose first byte is page-aligned (zero-filled, never detachable). */
export function pageAlignedBuffer(bytes: number): Buffer {
  return Buffer.from(wasmMemory(bytes, false) as ArrayBuffer, 0, bytes);
}

/** Shared memory (at least `bytes`, whole 64 KiB pages) whose start is page-aligned. */
export function pageAlignedSharedMemory(bytes: number): SharedArrayBuffer {
  return wasmMemory(bytes, true) as SharedArrayBuffer;
}

/** True when data is a view of page-aligned memory made here that starts on an aligned offset. */
export function isPageAligned(data: Uint8Array): boolean {
  return pageAligned.has(data.buffer) && data.byteOffset % DIRECT_IO_ALIGN_BYTES === 0;
}
