import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** The prefix of a sealed private key; anything else in the column is a plaintext JWK from an older data dir. */
const SEALED_PREFIX = 'tether-kek-v1.';
const KEK_BYTES = 32;

/** Why a key-encryption key or a sealed key could not be used; `code` is stable for tests and messages. */
export class KeyEncryptionError extends Error {
  constructor(
    readonly code: 'kek_malformed' | 'kek_wrong' | 'sealed_malformed',
    message: string,
  ) {
    super(message);
    this.name = 'KeyEncryptionError';
  }
}

/**
 * The key-encryption key (KEK) that seals private signing keys at rest with AES-256-GCM. The signing key's `kid`
 * is the associated data, so a sealed key copied onto another key's row does not open. The KEK itself is never
 * stored beside what it protects (unless the dev tenant put it there, which the server warns about).
 *
 * @see https://nvlpubs.nist.gov/nistpubs/Legacy/SP/nistspecialpublication800-38d.pdf (GCM)
 */
export class KeyEncryptionKey {
  private constructor(private readonly key: Buffer) {}

  /**
   * Reads a KEK written as 32 bytes in base64url, base64 or hex (what `openssl rand -base64 32` or
   * {@link generateKekText} prints). Surrounding whitespace is ignored.
   */
  static parse(text: string): KeyEncryptionKey {
    const trimmed = text.trim();
    let bytes: Buffer | undefined;
    if (/^[0-9a-fA-F]{64}$/.test(trimmed)) bytes = Buffer.from(trimmed, 'hex');
    else if (/^[A-Za-z0-9_-]{43}$/.test(trimmed)) bytes = Buffer.from(trimmed, 'base64url');
    else if (/^[A-Za-z0-9+/]{43}=$/.test(trimmed)) bytes = Buffer.from(trimmed, 'base64');
    if (!bytes || bytes.length !== KEK_BYTES) {
      throw new KeyEncryptionError('kek_malformed', 'the key-encryption key must be 32 random bytes in base64url, base64 or hex (e.g. openssl rand -base64 32)');
    }
    return new KeyEncryptionKey(bytes);
  }

  static isSealed(stored: string): boolean {
    return stored.startsWith(SEALED_PREFIX);
  }

  /** Seals a private JWK's text for the row of `kid`. */
  seal(kid: string, plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(kid, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return `${SEALED_PREFIX}${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${tag.toString('base64url')}`;
  }

  /** Opens what {@link seal} made for `kid`; throws `kek_wrong` when this KEK (or this kid) did not seal it. */
  open(kid: string, sealed: string): string {
    const parts = sealed.startsWith(SEALED_PREFIX) ? sealed.slice(SEALED_PREFIX.length).split('.') : [];
    const [iv, ciphertext, tag] = parts.map((p) => Buffer.from(p, 'base64url'));
    if (parts.length !== 3 || !iv || !ciphertext || !tag || iv.length !== 12 || tag.length !== 16) {
      throw new KeyEncryptionError('sealed_malformed', `the stored private key ${kid} is not a sealed key`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
      decipher.setAAD(Buffer.from(kid, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      throw new KeyEncryptionError('kek_wrong', `the key-encryption key does not open signing key ${kid}: is it the KEK this data was written with?`);
    }
  }
}

/** A fresh KEK as base64url text, for the dev tenant or an operator's `openssl rand` alternative. */
export function generateKekText(): string {
  return randomBytes(KEK_BYTES).toString('base64url');
}
