// What the chunk workers need from the repository, and nothing more: a worker that imported
// index.ts would load every module of the repository (schemas, locks, gc) into its heap, and
// each of its frequent garbage collections marks that heap again.
export { splitMasterSecret, type MasterKeys } from './crypto.ts';
export { computeChunkId, encodeChunkInto, decodeChunkInto } from './codec.ts';
