// Messages between the pipelines and the chunk workers.

export type WorkerRequest =
  /** data may be longer than the batch (a recycled buffer): lengthBytes says how much counts. */
  | { op: 'hash'; jobId: number; data: ArrayBuffer; lengthBytes?: number; chunkSizeBytes: number; keep: boolean }
  | { op: 'encode'; jobId: number; indices: number[]; ids: ArrayBuffer }
  | { op: 'decode'; jobId: number; data: ArrayBuffer; items: { offsetBytes: number; lengthBytes: number; chunkId: Uint8Array; plainBytes: number }[] };

export type WorkerReply =
  | { op: 'hash'; jobId: number; ids: ArrayBuffer; zero: Uint8Array }
  /** blobs: the encoded chunks back to back, blobBytes their lengths; data: the batch, returned for reuse. */
  | { op: 'encode'; jobId: number; blobs: ArrayBuffer; blobBytes: number[]; data: ArrayBuffer }
  /** results: per item its decoded length, or why it is damaged; data: the decoded items back to back. */
  | { op: 'decode'; jobId: number; results: (number | string)[]; data: ArrayBuffer }
  | { op: 'error'; jobId: number; message: string };
