// Explicit garbage collection for the pipelines. They turn over hundreds of MB of large
// ArrayBuffers (reads, transfers between threads, packs) whose memory V8 returns only when it
// collects, and left to itself it lets a few hundred MB of dead buffers pile up per thread.
// Collecting after every `everyBytes` of work keeps peak memory flat for ~1 ms each time.

import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export function garbageCollector(everyBytes: number): (bytes: number) => void {
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since >= everyBytes) {
      since = 0;
      gc();
    }
  };
}
