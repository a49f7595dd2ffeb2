// Keys and authenticated encryption. The repository's master secret (64 random bytes) never
// touches the target in the clear: it is wrapped with AES-256-GCM under a key derived from the
// passphrase by scrypt. Its first half encrypts objects, its second half keys the HMAC that
// names chunks, so chunk ids reveal nothing about content to someone without the key.

import { copyBytes, releaseBuffer } from '../core/index.ts';
import { createCipheriv, createDecipheriv, createHash, createHmac, createSecretKey, randomBytes, randomFillSync, scrypt, type BinaryLike, type KeyObject } from 'node:crypto';

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

// Nonces are random, drawn from a pool refilled 1024 at a time: one CSPRNG call per chunk
// cost ~4% of a backup.
const NONCES_PER_FILL = 1024;
const noncePool = Buffer.alloc(NONCE_BYTES * NONCES_PER_FILL);
let noncesLeft = 0;

function nextNonce(): Buffer {
  if (noncesLeft === 0) {
    randomFillSync(noncePool);
    noncesLeft = NONCES_PER_FILL;
  }
  noncesLeft--;
  return noncePool.subarray(noncesLeft * NONCE_BYTES, (noncesLeft + 1) * NONCE_BYTES);
}

/** AES-256-GCM: nonce ‖ ciphertext ‖ tag; aad binds the blob to its name so blobs cannot be swapped. */
export function seal(key: Buffer | KeyObject, plaintext: Uint8Array, aad: BinaryLike): Buffer {
  const out = Buffer.allocUnsafe(plaintext.length + SEAL_OVERHEAD_BYTES);
  sealInto(key, [plaintext], aad, out, 0);
  return out;
}

/**
 * seal() of the concatenated parts, written into `out` at `at` without building the
 * plaintext or the result in between; returns the bytes written. out needs room for the
 * parts plus SEAL_OVERHEAD_BYTES.
 */
export function sealInto(key: Buffer | KeyObject, parts: readonly Uint8Array[], aad: BinaryLike, out: Buffer, at: number): number {
  const nonce = nextNonce();
  nonce.copy(out, at);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(typeof aad === 'string' ? Buffer.from(aad) : (aad as Buffer));
  let end = at + NONCE_BYTES;
  // GCM is a stream mode: update() returns as many bytes as it is given and final() none.
  for (const part of parts) {
    const encrypted = cipher.update(part);
    // out is usually a batch slot's shared memory: copyBytes, not Buffer#copy (see there).
    end += copyBytes(encrypted, out, end);
    releaseBuffer(encrypted);
  }
  end += cipher.final().copy(out, end);
  end += cipher.getAuthTag().copy(out, end);
  return end - at;
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
