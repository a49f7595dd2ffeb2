// Messages between the pipelines and the chunk workers.

export type WorkerRequest =
  /** data may be longer than the batch (a recycled buffer): lengthBytes says how much counts. */
  | { op: 'hash'; jobId: number; data: ArrayBuffer; lengthBytes?: number; chunkSizeBytes: number; keep: boolean }
  | { op: 'encode'; jobId: number; indices: number[]; ids: ArrayBuffer }
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

export type WorkerReply =
  | { op: 'hash'; jobId: number; ids: ArrayBuffer; zero: Uint8Array }
  /** blobs: the encoded chunks back to back, blobBytes their lengths; data: the batch, returned for reuse. */
  | { op: 'encode'; jobId: number; blobs: ArrayBuffer; blobBytes: number[]; data: ArrayBuffer }
  /** results: per item its decoded length, or why it is damaged; data: the decoded items back to back ('return' only). */
  | { op: 'decode'; jobId: number; results: (number | string)[]; data: ArrayBuffer | null; writeError?: string }
  | { op: 'error'; jobId: number; message: string };
