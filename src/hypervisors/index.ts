// Public face of the hypervisors module: DiskSources for image files and NBD exports, and
// image files as a backup source for powered-off VMs and templates. The libvirt/QEMU adapter
// is a module of its own (hypervisors/libvirt/index.ts) built on these.
export { openImageSource, openNbdSource } from './qemu-nbd-source.ts';
export type { ImageSourceOptions, NbdSourceOptions } from './qemu-nbd-source.ts';
export { openImageSession, imageFileSource, type ImageSpec, type ImageFileSourceOptions } from './image-session.ts';
export { openImageFileLazily } from './image-session.ts';
export { listImageBitmaps, type ImageBitmap } from './image-probe.ts';
export { openImageWithDirtyBitmap } from './qemu-nbd-source.ts';
