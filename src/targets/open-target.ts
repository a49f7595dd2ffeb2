// Turns what the user gave as --repo into a Target: parses the location (target-url.ts) and
// opens the matching back-end, wrapped in the per-target parallelism and bandwidth limits.
// Opening does not connect; the first operation does, so an unreachable target shows up as
// a TARGET_UNREACHABLE from that operation. The remote back-ends' client libraries are loaded
// only when such a target is used: they would add ~80 MB to every process otherwise.
// When VMBAK_TEST_FAULTS is set (tests only), the back-end is wrapped in a FaultyTarget,
// beneath the limits, as if the store itself misbehaved; when it is not, nothing is added.

import type { Target } from '../core/index.ts';
import { LocalTarget } from './local-target.ts';
import { FaultyTarget } from './faulty-target.ts';
import { faultPlanFromEnv } from './fault-rules.ts';
import { ThrottledTarget } from './throttled-target.ts';
import { parseTargetLocation } from './target-url.ts';
import type { TargetSecrets } from './target-options.ts';

/**
 * `secrets` (by their environment names) come before the process environment: a controller
 * opens each repository with the credentials stored for it.
 */
export async function openTarget(location: string, secrets?: TargetSecrets): Promise<Target> {
  const parsed = parseTargetLocation(location);
  const loc = secrets && parsed.kind !== 'local' ? { ...parsed, options: { ...parsed.options, env: { ...process.env, ...secrets } } } : parsed;
  const faults = faultPlanFromEnv();
  const backEnd = (target: Target): Target => (faults ? new FaultyTarget(target, faults) : target);
  switch (loc.kind) {
    case 'local':
      return backEnd(new LocalTarget(loc.path));
    case 's3': {
      const { S3Target } = await import('./s3-target.ts');
      return new ThrottledTarget(backEnd(new S3Target(loc, loc.options)), loc.options.connections, loc.options.limitMBps, loc.options.timeoutMs);
    }
    case 'sftp': {
      const { SftpTarget } = await import('./sftp-target.ts');
      return new ThrottledTarget(backEnd(new SftpTarget(loc, loc.options)), loc.options.connections, loc.options.limitMBps, loc.options.timeoutMs);
    }
    case 'ftp': {
      const { FtpTarget } = await import('./ftp-target.ts');
      return new ThrottledTarget(backEnd(new FtpTarget(loc, loc.options)), loc.options.connections, loc.options.limitMBps, loc.options.timeoutMs);
    }
  }
}
