// Turns what the user gave as --repo into a Target: parses the location (target-url.ts) and
// opens the matching back-end, wrapped in the per-target parallelism and bandwidth limits.
// Opening does not connect; the first operation does, so an unreachable target shows up as
// a TARGET_UNREACHABLE from that operation. The remote back-ends' client libraries are loaded
// only when such a target is used: they would add ~80 MB to every process otherwise.

import type { Target } from '../core/index.ts';
import { LocalTarget } from './local-target.ts';

import { ThrottledTarget } from './throttled-target.ts';
import { parseTargetLocation } from './target-url.ts';

export async function openTarget(location: string): Promise<Target> {
  const loc = parseTargetLocation(location);
  switch (loc.kind) {
    case 'local':
      return new LocalTarget(loc.path);
    case 's3': {
      const { S3Target } = await import('./s3-target.ts');
      return new ThrottledTarget(new S3Target(loc, loc.options), loc.options.connections, loc.options.limitMBps, loc.options.timeoutMs);
    }
    case 'sftp': {
      const { SftpTarget } = await import('./sftp-target.ts');
      return new ThrottledTarget(new SftpTarget(loc, loc.options), loc.options.connections, loc.options.limitMBps, loc.options.timeoutMs);
    }
    case 'ftp': {
      const { FtpTarget } = await import('./ftp-target.ts');
      return new ThrottledTarget(new FtpTarget(loc, loc.options), loc.options.connections, loc.options.limitMBps, loc.options.timeoutMs);
    }
  }
}
