// Public face of the NBD module: the client used to read hypervisor disks, the server that
// serves read-only exports (a backup's disks), and the protocol constants callers interpret
// (block status flags, context names).
export { NbdClient } from './client.ts';
export type { NbdConnectOptions } from './client.ts';
export type { BlockStatusExtent } from './block-status.ts';
export { NbdServer, type NbdServerOptions, type NbdListenAddress } from './server.ts';
export { memoryExport, type NbdExport, type NbdRequestFailure } from './export.ts';
export { BASE_ALLOCATION, NBD_STATE_HOLE, NBD_STATE_ZERO, NBD_STATE_DIRTY } from './protocol.ts';
