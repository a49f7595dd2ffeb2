// Messages between the pipelines and the chunk workers.

export type WorkerRequest =
  | { op: 'hash'; jobId: number; data: ArrayBuffer; chunkSizeBytes: number; keep: boolean }
  | { op: 'encode'; jobId: number; indices: number[]; ids: ArrayBuffer }
  | { op: 'decode'; jobId: number; data: ArrayBuffer; items: { offsetBytes: number; lengthBytes: number; chunkId: Uint8Array }[] };

export type WorkerReply =
  | { op: 'hash'; jobId: number; ids: ArrayBuffer; zero: Uint8Array }
  | { op: 'encode'; jobId: number; blobs: ArrayBuffer[] }
  | { op: 'decode'; jobId: number; results: (ArrayBuffer | string)[] }
  | { op: 'error'; jobId: number; message: string };
