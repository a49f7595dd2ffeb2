// Reads the YAML config file into a validated VmbakConfig. Any problem — YAML syntax, a
// field of the wrong type, an unknown key, a bad cron string, a reference to nothing, an
// unreadable secret file — is one CONFIG_INVALID whose one-line message names the file, the
// line and the field ("vmbak.yaml:12: policies[0].schedule (policy web): …"). Lines come from
// the yaml library's node ranges. Secret files are read here, relative to the config file's
// folder, so the same line-numbered error covers them; their contents are never in a message.

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { VmbakError, describeError } from '../core/index.ts';
import type { RepositoryCredentials } from '../catalog/index.ts';
import { configSchema, type VmbakConfig } from './config-schema.ts';

export interface LoadedConfig {
  readonly file: string;
  readonly config: VmbakConfig;
  /** Repository credentials read from passphraseFile / credentialsFile, by repository name. */
  readonly credentials: ReadonlyMap<string, RepositoryCredentials | null>;
  /** Channel secrets read from passwordFile / secretFile, by channel name. */
  readonly channelSecrets: ReadonlyMap<string, string | null>;
}

type Path = readonly PropertyKey[];

interface ParsedConfig {
  readonly config: VmbakConfig;
  /** The CONFIG_INVALID error for `detail` at `path` of the file. */
  readonly errorAt: (path: Path, detail: string) => VmbakError;
}

export async function loadConfigFile(file: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new VmbakError('CONFIG_INVALID', { detail: `${file}: cannot read it: ${describeError(err)}` }, { cause: err });
  }
  const parsed = parseConfig(text, file);
  const base = dirname(resolve(file));
  const read = async (path: Path, secretFile: string): Promise<string> => {
    try {
      return (await readFile(resolve(base, secretFile), 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw parsed.errorAt(path, `cannot read ${secretFile}: ${describeError(err)}`);
    }
  };
  const credentials = new Map<string, RepositoryCredentials | null>();
  for (const [i, repo] of parsed.config.repositories.entries()) {
    const passphrase = repo.passphraseFile === undefined ? undefined : await read(['repositories', i, 'passphraseFile'], repo.passphraseFile);
    const env = repo.credentialsFile === undefined ? undefined
      : parseEnvFile(await read(['repositories', i, 'credentialsFile'], repo.credentialsFile), (detail) => parsed.errorAt(['repositories', i, 'credentialsFile'], detail));
    credentials.set(repo.name, passphrase === undefined && env === undefined ? null : { passphrase, env });
  }
  const channelSecrets = new Map<string, string | null>();
  for (const [i, channel] of parsed.config.alerts.channels.entries()) {
    const secretFile = channel.type === 'smtp' ? channel.passwordFile : channel.secretFile;
    const field = channel.type === 'smtp' ? 'passwordFile' : 'secretFile';
    channelSecrets.set(channel.name, secretFile === undefined ? null : await read(['alerts', 'channels', i, field], secretFile));
  }
  return { file, config: parsed.config, credentials, channelSecrets };
}

/** Parses and validates config text; `file` is only for messages. */
export function parseConfig(text: string, file: string): ParsedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  const yamlError = doc.errors[0];
  if (yamlError) {
    const line = yamlError.linePos?.[0].line ?? lineAt(yamlError.pos[0]);
    throw new VmbakError('CONFIG_INVALID', { detail: `${file}:${line}: ${yamlError.message.split('\n')[0]}` });
  }
  const data: unknown = doc.toJS();
  const errorAt = (path: Path, detail: string): VmbakError => {
    const line = lineAt(locate(doc, path));
    const field = path.length === 0 ? 'the file' : `${renderPath(path)}${owner(data, path)}`;
    return new VmbakError('CONFIG_INVALID', { detail: `${file}:${line}: ${field}: ${detail}` });
  };
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw errorAt([], 'expected a mapping with repositories and policies');
  }
  const result = configSchema.safeParse(data);
  if (!result.success) {
    const issues = result.error.issues;
    const first = issues[0]!;
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
    const path = first.code === 'unrecognized_keys' ? [...first.path, first.keys[0]!] : first.path;
    throw errorAt(path, `${describeIssue(first)}${more}`);
  }
  return { config: result.data, errorAt };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? `s ${issue.keys.join(', ')}` : ''} (see docs/config.md)`;
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) return 'is required';
  return issue.message.replace(/^Invalid input: /, '');
}

/** The offset in the text of the deepest node on `path` (the key itself for a map entry). */
function locate(doc: Document, path: Path): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === segment);
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment]) {
      node = node.items[segment];
      offset = (node as Node).range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return offset;
}

function renderPath(path: Path): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : `${i > 0 ? '.' : ''}${String(s)}`)).join('');
}

/** " (policy web)" when the path runs through a named item, to say which one. */
function owner(data: unknown, path: Path): string {
  const kinds: Record<string, string> = { repositories: 'repository', policies: 'policy', channels: 'channel', rules: 'rule' };
  let node = data as Record<PropertyKey, unknown> | undefined;
  let found = '';
  for (const [i, segment] of path.entries()) {
    const next = node?.[segment] as Record<PropertyKey, unknown> | undefined;
    const kind = kinds[String(path[i - 1])];
    if (typeof segment === 'number' && kind && typeof next?.name === 'string' && i < path.length - 1) found = ` (${kind} ${next.name})`;
    node = next;
  }
  return found;
}

/** KEY=VALUE lines (the environment names the CLI reads); blank lines and # comments skipped. */
function parseEnvFile(text: string, fail: (detail: string) => VmbakError): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [n, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw fail(`line ${n + 1} of the credentials file is not KEY=VALUE`);
    env[m[1]!] = m[2]!;
  }
  return env;
}
