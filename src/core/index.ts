// Domain types, interfaces and the error registry: the centre every other module imports
// and which imports nothing of vmbak's.
export * from './errors.ts';
export * from './clock.ts';
export * from './target.ts';
export * from './disk-source.ts';
export * from './units.ts';
export * from './buffers.ts';
export * from './aligned-buffers.ts';
export * from './durable-files.ts';
export * from './hypervisor.ts';
export * from './loopback.ts';
export * from './package-root.ts';
