import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Clock } from '../shared/clock.js';
import { KeyEncryptionKey } from './key-encryption.js';

export const SIGNING_ALG = 'ES256';

export interface StoredSigningKey {
  kid: string;
  alg: string;
  /** The private JWK sealed with the KEK (see {@link KeyEncryptionKey}); plaintext only in data dirs from before sealing. */
  privateJwk: string;
  publicJwk: string;
  /** When the key was created, and published in the JWKS. */
  createdAt: number;
  /** When it starts signing; null means from `createdAt` (keys from before rotation existed). */
  activatesAt: number | null;
  /** When it leaves the JWKS; null while it has no planned end. The row stays, for audit checkpoint checks. */
  retiredAt: number | null;
}

/** What the key ring needs from storage. */
export interface SigningKeyStore {
  listSigningKeys(): Promise<StoredSigningKey[]>;
  insertSigningKey(key: StoredSigningKey): Promise<void>;
  /** Replaces a key's stored private JWK (sealing a plaintext one). */
  updatePrivateKey(kid: string, privateJwk: string): Promise<void>;
  /** Plans a key's retirement at `at` (seconds). */
  retireSigningKey(kid: string, at: number): Promise<void>;
}

/** The key that signs now: what tokens, SETs and audit checkpoints are signed with. */
export interface ActiveSigningKey {
  kid: string;
  alg: typeof SIGNING_ALG;
  key: KeyObject;
}

/** What a signer needs of the key ring: the key to sign with now. */
export interface SigningKeySource {
  readonly signingKey: ActiveSigningKey;
}

/** One key's place in its life, as the admin API shows it (never the private half). */
export interface SigningKeyStatus {
  kid: string;
  alg: string;
  state: 'published' | 'signing' | 'retiring' | 'retired';
  createdAt: number;
  activatesAt: number;
  retiredAt: number | null;
}

/** What a rotation planned: when the new key signs and when the old ones leave the JWKS. */
export interface RotationPlan {
  kid: string;
  publishedAt: number;
  activatesAt: number;
  retiring: { kid: string; retiredAt: number }[];
}

/** A rotation asked for while the previous one's new key is not signing yet. */
export class RotationInProgress extends Error {
  readonly code = 'rotation_in_progress';
  constructor(readonly activatesAt: number) {
    super(`a rotation is already under way: its new key signs from ${new Date(activatesAt * 1000).toISOString()}`);
    this.name = 'RotationInProgress';
  }
}

interface LoadedKey {
  kid: string;
  alg: string;
  createdAt: number;
  activatesAt: number;
  retiredAt: number | null;
  publicJwk: JWK;
  publicKey: KeyObject;
  /** Absent for keys already retired: nothing signs with them again. */
  privateKey: KeyObject | undefined;
}

/**
 * The server's signing keys, with their schedule. A key is published in the JWKS from its creation, signs from
 * `activatesAt`, and leaves the JWKS at `retiredAt`. A rotation publishes the new key ahead of its first signature
 * (so every verifier's cached JWKS has it by then) and retires the old one only after the longest token it signed
 * has expired, so no token is ever signed by a key a verifier does not know or still in use by a key it dropped.
 * Everything is decided from the injected clock at the moment of use, so no timer is involved.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-5 (the published set)
 */
export class KeyRing implements SigningKeySource {
  private keys: LoadedKey[] = [];
  /** How many plaintext private keys (from a data dir older than sealing) `open` sealed. */
  sealedOnOpen = 0;

  private constructor(
    private readonly store: SigningKeyStore,
    private readonly kek: KeyEncryptionKey,
    private readonly clock: Clock,
  ) {}

  /**
   * Loads the stored keys, sealing any plaintext private key left by an older data dir, and creates the first
   * key when none can sign now. Throws {@link KeyEncryptionError} when the KEK does not open the stored keys.
   */
  static async open(store: SigningKeyStore, kek: KeyEncryptionKey, clock: Clock): Promise<KeyRing> {
    const ring = new KeyRing(store, kek, clock);
    for (const row of await store.listSigningKeys()) {
      if (KeyEncryptionKey.isSealed(row.privateJwk)) continue;
      await store.updatePrivateKey(row.kid, kek.seal(row.kid, row.privateJwk));
      ring.sealedOnOpen++;
    }
    await ring.reload();
    if (!ring.current()) {
      const now = clock.now();
      await store.insertSigningKey(await KeyRing.create(kek, now, now));
      await ring.reload();
    }
    return ring;
  }

  /** A new key pair, sealed for storage, published from `now` and signing from `activatesAt`. */
  static async create(kek: KeyEncryptionKey, now: number, activatesAt: number): Promise<StoredSigningKey> {
    const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = await exportJWK(privateKey);
    const decorate = (jwk: JWK) => ({ ...jwk, kid, alg: SIGNING_ALG, use: 'sig' });
    return {
      kid,
      alg: SIGNING_ALG,
      privateJwk: kek.seal(kid, JSON.stringify(decorate(privateJwk))),
      publicJwk: JSON.stringify(decorate(publicJwk)),
      createdAt: now,
      activatesAt,
      retiredAt: null,
    };
  }

  /** Re-reads the keys from storage, e.g. a rotation made by another server process on the same database. */
  async reload(): Promise<void> {
    const now = this.clock.now();
    const loaded: LoadedKey[] = [];
    for (const row of await this.store.listSigningKeys()) {
      if (row.alg !== SIGNING_ALG) continue;
      const known = this.keys.find((k) => k.kid === row.kid);
      const publicJwk = JSON.parse(row.publicJwk) as JWK;
      const retired = row.retiredAt !== null && row.retiredAt <= now;
      const privateKey = retired
        ? undefined
        : (known?.privateKey ?? createPrivateKey({ key: JSON.parse(this.kek.open(row.kid, row.privateJwk)) as JsonWebKey, format: 'jwk' }));
      loaded.push({
        kid: row.kid,
        alg: row.alg,
        createdAt: row.createdAt,
        activatesAt: row.activatesAt ?? row.createdAt,
        retiredAt: row.retiredAt,
        publicJwk,
        publicKey: known?.publicKey ?? createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' }),
        privateKey,
      });
    }
    // Newest activation first: the first key that may sign is the one that does.
    loaded.sort((a, b) => b.activatesAt - a.activatesAt || b.createdAt - a.createdAt);
    this.keys = loaded;
  }

  private current(): LoadedKey | undefined {
    const now = this.clock.now();
    return this.keys.find((k) => k.privateKey && k.activatesAt <= now && !isRetired(k, now));
  }

  get signingKey(): ActiveSigningKey {
    const key = this.current();
    // open() made sure one signs, and a rotation retires a key only after its successor signs.
    if (!key?.privateKey) throw new Error('no signing key is active');
    return { kid: key.kid, alg: SIGNING_ALG, key: key.privateKey };
  }

  /** The public JWK Set (RFC 7517 §5): every key not yet retired, including one published ahead of signing. */
  jwks(): { keys: JWK[] } {
    const now = this.clock.now();
    return { keys: this.keys.filter((k) => !isRetired(k, now)).map((k) => k.publicJwk) };
  }

  /** A published key by `kid`, for the server's own verifications (its demo API, introspection, revocation). */
  async getKey(kid: string | undefined, alg: string): Promise<KeyObject | undefined> {
    if (alg !== SIGNING_ALG) return undefined;
    const now = this.clock.now();
    const published = this.keys.filter((k) => !isRetired(k, now));
    const match = kid === undefined ? (published.length === 1 ? published[0] : undefined) : published.find((k) => k.kid === kid);
    return match?.publicKey;
  }

  /** Every key with its state now, newest first. */
  status(): SigningKeyStatus[] {
    const now = this.clock.now();
    const signing = this.current()?.kid;
    return this.keys.map((k) => ({
      kid: k.kid,
      alg: k.alg,
      state: isRetired(k, now) ? 'retired' : k.kid === signing ? 'signing' : k.activatesAt > now ? 'published' : 'retiring',
      createdAt: k.createdAt,
      activatesAt: k.activatesAt,
      retiredAt: k.retiredAt,
    }));
  }

  /**
   * Starts a rotation: a new key, published now and signing after `publishAhead` seconds; every older key
   * still published leaves the JWKS `retireAfter` seconds after that (the longest a token it signed can live).
   * Refuses while an earlier rotation's key is still waiting to sign.
   */
  async rotate(opts: { publishAhead: number; retireAfter: number }): Promise<RotationPlan> {
    const now = this.clock.now();
    await this.reload();
    const pending = this.keys.find((k) => k.activatesAt > now && !isRetired(k, now));
    if (pending) throw new RotationInProgress(pending.activatesAt);
    const activatesAt = now + opts.publishAhead;
    const retiredAt = activatesAt + opts.retireAfter;
    const fresh = await KeyRing.create(this.kek, now, activatesAt);
    // Publish first: until the new row is stored nothing else changes, so a failure leaves the old key signing.
    await this.store.insertSigningKey(fresh);
    const retiring: RotationPlan['retiring'] = [];
    for (const k of this.keys) {
      if (k.retiredAt !== null && k.retiredAt <= retiredAt) continue;
      await this.store.retireSigningKey(k.kid, retiredAt);
      retiring.push({ kid: k.kid, retiredAt });
    }
    await this.reload();
    return { kid: fresh.kid, publishedAt: now, activatesAt, retiring };
  }
}

function isRetired(key: LoadedKey, now: number): boolean {
  return key.retiredAt !== null && key.retiredAt <= now;
}
