// Messages between the pipelines and the chunk workers.

export type WorkerRequest =
  /**
   * The batch is either `data` (transferred) or the input of shared slot `slot`; either may be
   * longer than the batch: lengthBytes says how much counts.
   */
  | { op: 'hash'; jobId: number; data?: ArrayBuffer; slot?: number; lengthBytes?: number; chunkSizeBytes: number; keep: boolean }
  /** Encodes chunks of a batch held in a slot (by `hash` with keep) into the slot's output, compressed at zstd `level`. */
  | { op: 'encode'; jobId: number; indices: number[]; ids: ArrayBuffer; level: number }
  /**
   * Authenticates and decompresses blobs. output 'discard' only checks them (verify); a file
   * output has the worker write each chunk at its disk offset itself (restore), so decoded
   * data never crosses threads.
   */
  | { op: 'decode'; jobId: number; data: ArrayBuffer; items: DecodeItem[]; output: 'return' | 'discard' | { path: string } };

export interface DecodeItem {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly chunkId: Uint8Array;
  readonly plainBytes: number;
  /** Where the chunk goes in the output file (file output only). */
  readonly diskOffsetBytes?: number;
}

/**
 * A worker's first message: the repository's master secret (null: unencrypted). Workers are
 * spawned without it, so they can boot while the repository is still being opened (see
 * prestartWorkers).
 */
export interface InitMessage {
  readonly op: 'init';
  readonly secret: Uint8Array | null;
}

/** Registers a shared slot with a worker (no reply); sent once, before the slot's first use. */
export interface SlotMessage {
  readonly op: 'slot';
  readonly slot: number;
  readonly input: SharedArrayBuffer;
  readonly output: SharedArrayBuffer;
}

export type WorkerReply =
  | { op: 'hash'; jobId: number; ids: ArrayBuffer; zero: Uint8Array }
  /** blobBytes: the lengths of the encoded chunks, written back to back into the slot's output. */
  | { op: 'encode'; jobId: number; blobBytes: number[] }
  /** results: per item its decoded length, or why it is damaged; data: the decoded items back to back ('return' only). */
  | { op: 'decode'; jobId: number; results: (number | string)[]; data: ArrayBuffer | null; writeError?: string }
  | { op: 'error'; jobId: number; message: string };
