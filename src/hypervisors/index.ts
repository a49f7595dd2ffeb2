// Public face of the hypervisors module: DiskSources for image files and NBD exports (the
// libvirt adapter joins here as it lands).
export { openImageSource, openNbdSource } from './qemu-nbd-source.ts';
export type { ImageSourceOptions, NbdSourceOptions } from './qemu-nbd-source.ts';
