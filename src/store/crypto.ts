// Encryption at rest for stored network credentials (passwords, access tokens).
//
// Format of a sealed value, version 1:
//
//   [0x01][12-byte random nonce][ciphertext][16-byte GCM tag]
//
// - AES-256-GCM (node:crypto), a fresh random 96-bit nonce per value. With
//   random nonces NIST SP 800-38D allows 2^32 encryptions under one key: far
//   beyond what a gateway stores.
// - Additional authenticated data = the version byte + a caller-chosen
//   *context* naming where the value lives (for credentials: the account row's
//   user id, network and account key). A ciphertext copied into another row,
//   or a forged version byte, fails authentication like a wrong key does.
// - The version byte lets a later format (another cipher, key rotation with a
//   key id) coexist with old rows: open() dispatches on it.
//
// Key derivation: the configured key is any string of at least 16 characters
// (store.encryptionKey). It may well be a human-chosen passphrase rather than
// 32 random bytes, so it goes through scrypt (N=2^15, r=8, p=1: ~32 MiB and
// ~70 ms, once per process start) rather than a bare HKDF, which would give
// no brute-force resistance to a weak passphrase if the database leaks. The
// salt is fixed ("ponte/store/credentials/v1") and documented on purpose: the
// key must be re-derivable from the config alone, with nothing stored next to
// the data it protects (a salt kept in the database would not add secrecy,
// and one kept elsewhere would be one more thing to lose). A fixed,
// application-specific salt still rules out generic precomputed tables; the
// label also separates this key from any other key ponte might ever derive
// from the same secret. Changing N/r/p or the salt means a new format version.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt } from 'node:crypto';

export const MIN_KEY_LENGTH = 16;
export const FORMAT_V1 = 0x01;

const SALT = 'ponte/store/credentials/v1';
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Thrown when a sealed value cannot be opened: wrong key, altered data, or an unknown format. */
export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecryptionError';
  }
}

/** Derives the 32-byte AES key from the configured key string (see the header for the parameters). */
export function deriveKey(secret: string): Promise<Buffer> {
  if (typeof secret !== 'string' || secret.length < MIN_KEY_LENGTH) {
    return Promise.reject(
      new RangeError(`the store encryption key must be a string of at least ${MIN_KEY_LENGTH} characters`),
    );
  }
  return new Promise((resolve, reject) => {
    scrypt(secret.normalize('NFC'), SALT, KEY_BYTES, SCRYPT, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Seals and opens values with one derived key. Holds no per-user state. */
export class SecretBox {
  readonly #key: Buffer;

  private constructor(key: Buffer) {
    this.#key = key;
  }

  static async fromSecret(secret: string): Promise<SecretBox> {
    return new SecretBox(await deriveKey(secret));
  }

  /** For tests and tools that already hold a derived 32-byte key. */
  static fromDerivedKey(key: Uint8Array): SecretBox {
    if (key.length !== KEY_BYTES) throw new RangeError(`a derived key has ${KEY_BYTES} bytes, got ${key.length}`);
    return new SecretBox(Buffer.from(key));
  }

  /**
   * A box with its own key for another purpose (e.g. ponte's media links),
   * derived from this one with HKDF-SHA256 and the purpose as its label:
   * what one box seals the other cannot open, and values of one purpose
   * reveal nothing about the other's key (nor, the parent key being the
   * output of scrypt, make guessing the configured secret any cheaper).
   */
  derive(purpose: string): SecretBox {
    return new SecretBox(Buffer.from(hkdfSync('sha256', this.#key, Buffer.alloc(0), `ponte/${purpose}`, KEY_BYTES)));
  }

  seal(plaintext: Uint8Array | string, context: string): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(FORMAT_V1, context));
    const body = Buffer.concat([
      cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext),
      cipher.final(),
    ]);
    return Buffer.concat([Buffer.of(FORMAT_V1), nonce, body, cipher.getAuthTag()]);
  }

  open(sealed: Uint8Array, context: string): Buffer {
    const blob = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (blob.length === 0) throw new DecryptionError('cannot decrypt stored credentials: the value is empty');
    const version = blob[0];
    if (version !== FORMAT_V1) {
      throw new DecryptionError(
        `cannot decrypt stored credentials: unknown format version ${version} (written by a newer ponte?)`,
      );
    }
    if (blob.length < 1 + NONCE_BYTES + TAG_BYTES) {
      throw new DecryptionError('cannot decrypt stored credentials: the value is truncated');
    }
    const nonce = blob.subarray(1, 1 + NONCE_BYTES);
    const body = blob.subarray(1 + NONCE_BYTES, blob.length - TAG_BYTES);
    const tag = blob.subarray(blob.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(version, context));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      throw new DecryptionError(
        'cannot decrypt stored credentials: store.encryptionKey is not the key they were encrypted with ' +
          '(was it changed?), or the stored value was altered',
      );
    }
  }

  sealJson(value: unknown, context: string): Buffer {
    return this.seal(JSON.stringify(value), context);
  }

  openJson<T = unknown>(sealed: Uint8Array, context: string): T {
    return JSON.parse(this.open(sealed, context).toString('utf8')) as T;
  }
}

function aad(version: number, context: string): Buffer {
  return Buffer.concat([Buffer.of(version), Buffer.from(context, 'utf8')]);
}
