// Key files: the master secret wrapped under passphrase-derived keys. Several key files may
// exist (one per passphrase); changing the passphrase writes a new key file and removes the
// old one, so no data is rewritten. The exported master secret is the way back when every
// passphrase is lost.

import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { VmbakError, type Target } from '../core/index.ts';
import { DEFAULT_SCRYPT, MASTER_SECRET_BYTES, deriveKey, randomId, seal, unseal, type ScryptParams } from './crypto.ts';
import { KEYS_PREFIX, keyObject } from './layout.ts';

const keyFileSchema = z.object({
  kdf: z.literal('scrypt'),
  N: z.number().int(),
  r: z.number().int(),
  p: z.number().int(),
  salt: z.string(),
  wrappedSecret: z.string(),
  createdAt: z.string(),
});

const wrapAad = (repositoryId: string): string => `vmbak-master-secret:${repositoryId}`;

export async function writeKeyFile(target: Target, repositoryId: string, secret: Buffer, passphrase: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(32);
  const kek = await deriveKey(passphrase, salt, params);
  const keyId = randomId(16);
  const body = {
    kdf: 'scrypt', N: params.N, r: params.r, p: params.p,
    salt: salt.toString('base64'),
    wrappedSecret: seal(kek, secret, wrapAad(repositoryId)).toString('base64'),
    createdAt: new Date().toISOString(),
  };
  await target.put(keyObject(keyId), Buffer.from(JSON.stringify(body, null, 2) + '\n'));
  return keyId;
}

/** Finds the key file the passphrase opens; returns its id and the master secret. */
export async function unlockWithPassphrase(target: Target, repositoryId: string, passphrase: string): Promise<{ keyId: string; secret: Buffer }> {
  const objects = await target.list(KEYS_PREFIX);
  for (const object of objects) {
    const keyId = object.name.slice(KEYS_PREFIX.length);
    const parsed = keyFileSchema.safeParse(safeJson(await target.get(object.name)));
    if (!parsed.success) continue;
    const k = parsed.data;
    const kek = await deriveKey(passphrase, Buffer.from(k.salt, 'base64'), { N: k.N, r: k.r, p: k.p });
    const secret = unseal(kek, Buffer.from(k.wrappedSecret, 'base64'), wrapAad(repositoryId));
    if (secret && secret.length === MASTER_SECRET_BYTES) return { keyId, secret };
  }
  throw new VmbakError('WRONG_PASSPHRASE', { repo: target.displayUrl });
}

export function newMasterSecret(): Buffer {
  return randomBytes(MASTER_SECRET_BYTES);
}

/** The printable form of a master secret for `vmbak key export`. */
export function encodeExportedKey(repositoryId: string, secret: Buffer): string {
  return `vmbak-master-key:1:${repositoryId}:${secret.toString('base64')}`;
}

export function decodeExportedKey(text: string, repositoryId: string, repo: string): Buffer {
  const m = /^vmbak-master-key:1:([0-9a-f]{32}):([A-Za-z0-9+/=]+)$/.exec(text.trim());
  if (!m) throw new VmbakError('USAGE', { detail: 'the key file does not hold a vmbak master key' });
  if (m[1] !== repositoryId) throw new VmbakError('USAGE', { detail: `the key belongs to repository ${m[1]}, not ${repositoryId} at ${repo}` });
  const secret = Buffer.from(m[2]!, 'base64');
  if (secret.length !== MASTER_SECRET_BYTES) throw new VmbakError('USAGE', { detail: 'the master key has the wrong length' });
  return secret;
}

function safeJson(data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch {
    return null;
  }
}
