import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, type KeyObject } from 'jose';

export const SIGNING_ALG = 'ES256';

export interface StoredSigningKey {
  kid: string;
  alg: string;
  privateJwk: string;
  publicJwk: string;
  createdAt: number;
  retiredAt: number | null;
}

/** What the key ring needs from storage. */
export interface SigningKeyStore {
  listSigningKeys(): Promise<StoredSigningKey[]>;
  insertSigningKey(key: StoredSigningKey): Promise<void>;
}

interface LoadedKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: JWK;
}

/**
 * The server's signing keys. The newest unretired key signs; every unretired key is published in the JWKS so a
 * rotation (add a key, wait one token lifetime, retire the old one) never breaks a verifier.
 */
export class KeyRing {
  private constructor(
    private readonly active: LoadedKey,
    private readonly published: JWK[],
  ) {}

  /** Loads the stored keys, creating the first one on first start. */
  static async open(store: SigningKeyStore, now: number): Promise<KeyRing> {
    let keys = (await store.listSigningKeys()).filter((k) => k.retiredAt === null && k.alg === SIGNING_ALG);
    if (keys.length === 0) {
      await store.insertSigningKey(await KeyRing.create(now));
      keys = (await store.listSigningKeys()).filter((k) => k.retiredAt === null && k.alg === SIGNING_ALG);
    }
    keys.sort((a, b) => b.createdAt - a.createdAt);
    const newest = keys[0];
    if (!newest) throw new Error('no signing key could be created');
    const privateKey = (await importJWK(JSON.parse(newest.privateJwk) as JWK, SIGNING_ALG)) as KeyObject;
    const published = keys.map((k) => JSON.parse(k.publicJwk) as JWK);
    return new KeyRing({ kid: newest.kid, privateKey, publicJwk: JSON.parse(newest.publicJwk) as JWK }, published);
  }

  static async create(now: number): Promise<StoredSigningKey> {
    const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = await exportJWK(privateKey);
    const decorate = (jwk: JWK) => ({ ...jwk, kid, alg: SIGNING_ALG, use: 'sig' });
    return {
      kid,
      alg: SIGNING_ALG,
      privateJwk: JSON.stringify(decorate(privateJwk)),
      publicJwk: JSON.stringify(decorate(publicJwk)),
      createdAt: now,
      retiredAt: null,
    };
  }

  get signingKey(): { kid: string; key: KeyObject } {
    return { kid: this.active.kid, key: this.active.privateKey };
  }

  /** The public JWK Set (RFC 7517 §5). */
  jwks(): { keys: JWK[] } {
    return { keys: this.published };
  }
}
