// Parses a --repo location into a description of the target, without opening anything:
//   /abs/path, rel/path, file:///abs/path            local directory
//   sftp://user@host:port/abs/path                    absolute path on the server
//   sftp://user@host/~/path                           path under the user's home
//   ftp://user@host:port/path, ftps://…               FTP, FTP with explicit TLS
//   s3://bucket/prefix?endpoint=http://host:port&region=r
// plus the shared options (?connections=&limitMBps=&timeoutMs=&connectTimeoutMs=).
// displayUrl is the location with any password removed, and is what every message shows.
// A password in the URL is refused: it would end up in shell history and process lists;
// secrets come from the environment (VMBAK_SFTP_PASSWORD, VMBAK_FTP_PASSWORD, AWS_*).

import { resolve } from 'node:path';
import { VmbakError } from '../core/index.ts';
import { parseTargetOptions, type TargetOptions } from './target-options.ts';

export type TargetLocation =
  | { readonly kind: 'local'; readonly path: string; readonly displayUrl: string }
  | { readonly kind: 'sftp'; readonly host: string; readonly port: number; readonly user: string | null;
      /** Absolute path, or relative to the login directory (home) when it came as /~/. */
      readonly path: string; readonly displayUrl: string; readonly options: TargetOptions }
  | { readonly kind: 'ftp'; readonly secure: boolean; readonly host: string; readonly port: number;
      readonly user: string | null; readonly path: string; readonly displayUrl: string; readonly options: TargetOptions }
  | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string; readonly endpoint: string | null;
      readonly region: string; readonly displayUrl: string; readonly options: TargetOptions };

export function parseTargetLocation(location: string): TargetLocation {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(location)?.[1]?.toLowerCase();
  if (!scheme) {
    if (location.trim() === '') throw invalid(location, 'empty location');
    const path = resolve(location);
    return { kind: 'local', path, displayUrl: path };
  }
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw invalid(redact(location), 'not a valid URL');
  }
  const displayUrl = redactUrl(url);
  if (url.password) throw invalid(displayUrl, 'do not put a password in the URL; use the environment (see docs)');
  if (url.hash) throw invalid(displayUrl, 'a URL fragment (#…) is not allowed');
  switch (scheme) {
    case 'file':
      if (url.search) throw invalid(displayUrl, 'file:// takes no options');
      return { kind: 'local', path: resolve(decodeURIComponent(url.pathname)), displayUrl: resolve(decodeURIComponent(url.pathname)) };
    case 'sftp':
      return { kind: 'sftp', ...serverParts(url, displayUrl, 22, true), displayUrl, options: parseTargetOptions(displayUrl, url.searchParams) };
    case 'ftp':
    case 'ftps':
      return { kind: 'ftp', secure: scheme === 'ftps', ...serverParts(url, displayUrl, 21, false), displayUrl, options: parseTargetOptions(displayUrl, url.searchParams) };
    case 's3':
      return parseS3(url, displayUrl);
    default:
      throw invalid(displayUrl, `unsupported scheme ${scheme}:// (use a path, sftp://, ftp://, ftps:// or s3://)`);
  }
}

function serverParts(url: URL, displayUrl: string, defaultPort: number, homeTilde: boolean) {
  if (!url.hostname) throw invalid(displayUrl, 'no host');
  const port = url.port ? Number(url.port) : defaultPort;
  const user = url.username ? decodeURIComponent(url.username) : null;
  let path = decodeURIComponent(url.pathname || '/');
  if (homeTilde && (path === '/~' || path.startsWith('/~/'))) {
    path = path.slice(3) || '.';
  } else if (!homeTilde && (path === '/~' || path.startsWith('/~/'))) {
    path = path.slice(3) || '.';
  }
  if (path.split('/').includes('..')) throw invalid(displayUrl, 'the path must not contain ..');
  path = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port, user, path };
}

function parseS3(url: URL, displayUrl: string): TargetLocation {
  const bucket = url.hostname;
  if (!bucket) throw invalid(displayUrl, 'no bucket (s3://bucket/prefix)');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw invalid(displayUrl, `bucket name ${bucket} is not valid`);
  let prefix = decodeURIComponent(url.pathname).replace(/^\/+/, '');
  if (prefix && !prefix.endsWith('/')) prefix += '/';
  const endpoint = url.searchParams.get('endpoint');
  if (endpoint !== null && !/^https?:\/\/[^/]+\/?$/.test(endpoint)) throw invalid(displayUrl, 'endpoint must look like http(s)://host:port');
  const region = url.searchParams.get('region') ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const options = parseTargetOptions(displayUrl, url.searchParams, ['endpoint', 'region']);
  return { kind: 's3', bucket, prefix, endpoint, region, displayUrl, options };
}

/** The URL as text with any password taken out. */
function redactUrl(url: URL): string {
  const copy = new URL(url.href);
  copy.password = '';
  return decodeURI(copy.href);
}

function redact(text: string): string {
  return text.replace(/^([a-z0-9+.-]+:\/\/[^:/@]*):[^@/]*@/i, '$1@');
}

function invalid(url: string, detail: string): VmbakError {
  return new VmbakError('TARGET_URL_INVALID', { url, detail });
}
