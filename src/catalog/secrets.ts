// The secrets box: repository passphrases, target credentials and alert channel secrets are
// stored in the catalog only as AES-256-GCM ciphertext under a 32-byte key file, so a copy
// of the catalog (a backup of it, a PostgreSQL dump) reveals nothing without the key. Two
// controllers sharing a catalog share the key file (--secrets-key). Each ciphertext is bound
// to its purpose ("repository:local") as associated data, so a ciphertext moved to another
// row does not decrypt. The key lives in a private field: it never reaches a log or
// util.inspect.
//
// Sealed form: "v1.<keyId>.<base64url(iv[12] | tag[16] | ciphertext)>"; keyId is 8 hex
// digits of a hash of the key, so a wrong key file is named as such rather than reported as
// damage.

import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, linkSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VmbakError, describeError } from '../core/index.ts';

const KEY_BYTES = 32;

/** Where the key file lives unless --secrets-key names another. */
export const defaultSecretsKeyPath = (dataDir: string): string => join(dataDir, 'secrets.key');

/** The files a controller keeps in its data dir (`vmbak serve --data-dir`, `vmbak token create --data-dir`). */
export function dataDirPaths(dataDir: string): { readonly catalog: string; readonly secretsKey: string } {
  return { catalog: join(dataDir, 'catalog.sqlite'), secretsKey: defaultSecretsKeyPath(dataDir) };
}
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretsBox {
  readonly #key: Buffer;
  readonly keyId: string;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`a secrets key has ${KEY_BYTES} bytes, not ${key.length}`);
    this.#key = Buffer.from(key);
    this.keyId = createHash('sha256').update('vmbak secrets key id\0').update(key).digest('hex').slice(0, 8);
  }

  /** Encrypts `plaintext` for `purpose` (e.g. "repository:local"); each call uses a fresh IV. */
  seal(plaintext: string, purpose: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(purpose));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v1.${this.keyId}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  /** Decrypts what seal() made for the same purpose; SECRET_UNREADABLE names why not. */
  open(sealed: string, purpose: string): string {
    const [version, keyId, payload] = sealed.split('.');
    if (version !== 'v1' || !keyId || payload === undefined) throw unreadable(purpose, 'not a vmbak sealed secret');
    if (keyId !== this.keyId) {
      throw unreadable(purpose, `it was sealed under secrets key ${keyId}, the key file in use is ${this.keyId}`);
    }
    const raw = Buffer.from(payload, 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) throw unreadable(purpose, 'the ciphertext is truncated');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(purpose));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw unreadable(purpose, 'the ciphertext was altered or belongs to another record');
    }
  }

  toJSON(): string { return `[SecretsBox ${this.keyId}]`; }
}

/**
 * The ciphertext to store for `plaintext`: `existing` when it already holds exactly that
 * (a fresh seal would differ byte for byte and turn every re-apply into an update).
 */
export function sealUnlessSame(box: SecretsBox, existing: string | null, plaintext: string, purpose: string): string {
  if (existing !== null) {
    try {
      if (box.open(existing, purpose) === plaintext) return existing;
    } catch { /* sealed under another key or damaged: replace it */ }
  }
  return box.seal(plaintext, purpose);
}

const unreadable = (what: string, detail: string): VmbakError => new VmbakError('SECRET_UNREADABLE', { what, detail });

/**
 * Loads the key file, creating it (mode 0600, 32 random bytes) when it does not exist and
 * `create` is not false. Creation is atomic (written aside, then hard-linked into place), so
 * two controllers starting together end up with the same key. A key file readable by group
 * or others is refused.
 */
export function loadSecretsBox(keyFile: string, opts: { create?: boolean } = {}): SecretsBox {
  try {
    statSync(keyFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || opts.create === false) {
      throw new VmbakError('SECRETS_KEY_INVALID', { path: keyFile, detail: describeError(err) }, { cause: err });
    }
    createKeyFile(keyFile);
  }
  const mode = statSync(keyFile).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new VmbakError('SECRETS_KEY_INVALID', { path: keyFile, detail: `it is readable by others (mode ${mode.toString(8)}); chmod 600 it` });
  }
  const key = readFileSync(keyFile);
  if (key.length !== KEY_BYTES) {
    throw new VmbakError('SECRETS_KEY_INVALID', { path: keyFile, detail: `it holds ${key.length} bytes, a key is ${KEY_BYTES}` });
  }
  return new SecretsBox(key);
}

function createKeyFile(keyFile: string): void {
  const aside = `${keyFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(aside, randomBytes(KEY_BYTES), { mode: 0o600, flag: 'wx' });
    chmodSync(aside, 0o600); // the umask may have narrowed it further; never widened
    try {
      linkSync(aside, keyFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process won: use its key
    }
  } catch (err) {
    throw new VmbakError('SECRETS_KEY_INVALID', { path: keyFile, detail: `cannot create it: ${describeError(err)}` }, { cause: err });
  } finally {
    try { unlinkSync(aside); } catch { /* never created */ }
  }
}
