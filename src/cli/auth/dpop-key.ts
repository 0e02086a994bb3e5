import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';

/** The one algorithm the client uses: ECDSA on P-256, which every DPoP server supports. */
export const DPOP_ALG = 'ES256';

/** The claims that vary per proof; `iat` and `jti` are added when signing. */
export interface ProofClaims {
  /** HTTP method of the request the proof accompanies. */
  htm: string;
  /** Target URI of the request; query and fragment are dropped, as RFC 9449 §4.2 says. */
  htu: string;
  /** base64url SHA-256 of the access token sent alongside (RFC 9449 §4.2, for resource requests). */
  ath?: string;
  /** The server's last DPoP-Nonce, when it demands one. */
  nonce?: string;
}

/**
 * A DPoP key as the rest of the client sees it: a public JWK, its thumbprint and the ability to sign proofs. The
 * private half stays wherever the key lives (the agent's memory, or the keychain); callers never see it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4
 */
export interface ClientKey {
  readonly publicJwk: JWK;
  /** RFC 7638 thumbprint: what the server binds the device code and the tokens to. */
  readonly jkt: string;
  proof(claims: ProofClaims): Promise<string>;
  /** Signs a device statement vouching for another key (the device key's job: see device-key.ts). */
  attest(claims: StatementClaims): Promise<string>;
}

/** What a device statement says besides its times and id: to whom, and for which login key. */
export interface StatementClaims {
  /** The issuer the statement is for. */
  aud: string;
  /** Thumbprint of the login's DPoP key the device vouches for. */
  cnfJkt: string;
}

/** The JOSE `typ` of a device statement; the server's verifier is src/devices/device-attestation.ts. */
export const DEVICE_STATEMENT_TYP = 'tether-device+jwt';
/** How long a statement lives: it is sent at once, and the server accepts at most 60 s. */
export const STATEMENT_LIFETIME = 60;

/**
 * Signs a device statement: header typ `tether-device+jwt`, alg ES256, the device's public jwk; claims iss (the
 * device key's thumbprint), aud, cnf.jkt, iat, exp (iat + 60) and a fresh jti. Documented in docs/cli.md.
 */
export function signStatement(privateKey: CryptoKey, publicJwk: JWK, jkt: string, claims: StatementClaims, now: number): Promise<string> {
  const payload = { iss: jkt, aud: claims.aud, cnf: { jkt: claims.cnfJkt }, iat: now, exp: now + STATEMENT_LIFETIME, jti: randomUUID() };
  return new SignJWT(payload).setProtectedHeader({ alg: DPOP_ALG, typ: DEVICE_STATEMENT_TYP, jwk: publicJwk }).sign(privateKey);
}

/**
 * Signs one DPoP proof JWT: header typ `dpop+jwt`, alg ES256, the public jwk; claims htm, htu, iat, a fresh jti,
 * and ath and nonce when given.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2
 */
export function signProof(privateKey: CryptoKey, publicJwk: JWK, claims: ProofClaims, now: number): Promise<string> {
  const payload: Record<string, unknown> = { htm: claims.htm.toUpperCase(), htu: htuOf(claims.htu), iat: now, jti: randomUUID() };
  if (claims.ath !== undefined) payload['ath'] = claims.ath;
  if (claims.nonce !== undefined) payload['nonce'] = claims.nonce;
  return new SignJWT(payload).setProtectedHeader({ alg: DPOP_ALG, typ: 'dpop+jwt', jwk: publicJwk }).sign(privateKey);
}

/** @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2 (ath: base64url of the SHA-256 of the token's ASCII) */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

/** The htu of a URL: scheme, authority and path, without query or fragment. */
export function htuOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/** A key held in this process's memory. */
export class InMemoryClientKey implements ClientKey {
  private constructor(
    private readonly privateKey: CryptoKey,
    readonly publicJwk: JWK,
    readonly jkt: string,
    private readonly now: () => number,
  ) {}

  /**
   * A fresh P-256 key. `extractable: false` (the agent's case) means even this process cannot export the private
   * half; the keychain store needs it extractable, once, to save it as a secret.
   */
  static async generate(opts: { extractable: boolean; now?: () => number }): Promise<{ key: InMemoryClientKey; privateJwk?: JWK }> {
    const { privateKey, publicKey } = await generateKeyPair(DPOP_ALG, { extractable: opts.extractable });
    const publicJwk = publicOnly(await exportJWK(publicKey));
    const key = new InMemoryClientKey(privateKey, publicJwk, await calculateJwkThumbprint(publicJwk), opts.now ?? epochSeconds);
    return opts.extractable ? { key, privateJwk: await exportJWK(privateKey) } : { key };
  }

  /** Loads a key saved as a private JWK (from the keychain); the loaded copy is not extractable. */
  static async fromPrivateJwk(jwk: JWK, now: () => number = epochSeconds): Promise<InMemoryClientKey> {
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string') throw new Error('the stored key is not a P-256 private key');
    const privateKey = (await importJWK({ ...jwk, ext: false }, DPOP_ALG, { extractable: false })) as CryptoKey;
    const publicJwk = publicOnly(jwk);
    return new InMemoryClientKey(privateKey, publicJwk, await calculateJwkThumbprint(publicJwk), now);
  }

  proof(claims: ProofClaims): Promise<string> {
    return signProof(this.privateKey, this.publicJwk, claims, this.now());
  }

  attest(claims: StatementClaims): Promise<string> {
    return signStatement(this.privateKey, this.publicJwk, this.jkt, claims, this.now());
  }
}

/** Only the public members of an EC JWK, so nothing private can ride along in a proof header. */
export function publicOnly(jwk: JWK): JWK {
  const { kty, crv, x, y } = jwk;
  return { kty, crv, x, y } as JWK;
}

function epochSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
