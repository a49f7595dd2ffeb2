// Public face of the hypervisors module: DiskSources for image files and NBD exports, image
// sessions for powered-off VMs, and the libvirt/QEMU adapter.
export { openImageSource, openNbdSource } from './qemu-nbd-source.ts';
export type { ImageSourceOptions, NbdSourceOptions } from './qemu-nbd-source.ts';
export { openImageSession, imagesFromDomainXml, type ImageSpec } from './image-session.ts';
export * as libvirt from './libvirt/index.ts';
