// An image file's DiskSource that starts its qemu-nbd only when first mapped or read. A disk
// the engine finds unchanged by its file facts is never read, so its qemu-nbd — a process,
// a socket and an image lock — is never started. The size comes from the probe (qemu-img
// info), which qemu-nbd's export must match.

import { VmbakError, type DiskSource } from '../core/index.ts';
import { openProbedImageSource } from './qemu-nbd-source.ts';

export function lazyImageSource(absPath: string, format: string, name: string, sizeBytes: number): DiskSource {
  let opening: Promise<DiskSource> | null = null;
  let closed = false;
  const open = (): Promise<DiskSource> => {
    if (closed) return Promise.reject(new VmbakError('INTERNAL', { detail: `disk ${name} read after close` }));
    opening ??= openProbedImageSource(absPath, format, name).then(async (source) => {
      if (source.sizeBytes !== sizeBytes) {
        await source.close().catch(() => undefined);
        throw new VmbakError('INTERNAL', { detail: `qemu-nbd serves ${source.sizeBytes} bytes of ${absPath}, qemu-img reported ${sizeBytes}` });
      }
      return source;
    });
    return opening;
  };
  return {
    name,
    sizeBytes,
    mapAllocation: async (offsetBytes, lengthBytes) => (await open()).mapAllocation(offsetBytes, lengthBytes),
    read: async (offsetBytes, lengthBytes, into) => (await open()).read(offsetBytes, lengthBytes, into),
    async close() {
      closed = true;
      const started = opening;
      if (started) await started.then((s) => s.close(), () => undefined);
    },
  };
}
