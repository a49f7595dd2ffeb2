// Keys and authenticated encryption. The repository's master secret (64 random bytes) never
// touches the target in the clear: it is wrapped with AES-256-GCM under a key derived from the
// passphrase by scrypt. Its first half encrypts objects, its second half keys the HMAC that
// names chunks, so chunk ids reveal nothing about content to someone without the key.

import { createCipheriv, createDecipheriv, createHash, createHmac, createSecretKey, randomBytes, scrypt, type BinaryLike, type KeyObject } from 'node:crypto';

export const MASTER_SECRET_BYTES = 64;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const SEAL_OVERHEAD_BYTES = NONCE_BYTES + TAG_BYTES;

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };

export function deriveKey(passphrase: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(passphrase, salt, 32, { ...params, maxmem: 256 * params.N * params.r }, (err, key) =>
      err ? reject(err) : resolve(key));
  });
}

/** Master key material: the AES key for objects and the HMAC key for chunk ids. */
export interface MasterKeys {
  readonly encryptionKey: KeyObject;
  readonly idKey: KeyObject;
}

/** Key objects are made once: handing raw key bytes to every cipher and HMAC costs ~10% of a backup. */
export function splitMasterSecret(secret: Buffer): MasterKeys {
  return { encryptionKey: createSecretKey(secret.subarray(0, 32)), idKey: createSecretKey(secret.subarray(32, 64)) };
}

/** AES-256-GCM: nonce ‖ ciphertext ‖ tag; aad binds the blob to its name so blobs cannot be swapped. */
export function seal(key: Buffer | KeyObject, plaintext: Uint8Array, aad: BinaryLike): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(typeof aad === 'string' ? Buffer.from(aad) : (aad as Buffer));
  const body = cipher.update(plaintext);
  const final = cipher.final();
  return Buffer.concat([nonce, body, final, cipher.getAuthTag()]);
}

/** Returns the plaintext, or null when the blob is not authentic under this key and aad. */
export function unseal(key: Buffer | KeyObject, blob: Uint8Array, aad: BinaryLike): Buffer | null {
  if (blob.length < SEAL_OVERHEAD_BYTES) return null;
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.length);
  const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, NONCE_BYTES));
  decipher.setAAD(typeof aad === 'string' ? Buffer.from(aad) : (aad as Buffer));
  decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
  try {
    const body = decipher.update(buf.subarray(NONCE_BYTES, buf.length - TAG_BYTES));
    const rest = decipher.final();
    // GCM is a stream mode: final() only checks the tag and yields nothing, so no copy is needed.
    return rest.length === 0 ? body : Buffer.concat([body, rest]);
  } catch {
    return null;
  }
}

/** Chunk id: HMAC-SHA-256 under the id key when encrypted, plain SHA-256 otherwise. */
export function chunkIdOf(idKey: KeyObject | null, data: Uint8Array): Buffer {
  return idKey ? createHmac('sha256', idKey).update(data).digest() : createHash('sha256').update(data).digest();
}

export function sha256(data: Uint8Array | string): Buffer {
  return createHash('sha256').update(data).digest();
}

export function randomId(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}
