import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK, type KeyObject } from 'jose';

/** A client's DPoP key, able to sign proofs as RFC 9449 §4.2 describes. */
export interface DpopKey {
  jwk: JWK;
  jkt: string;
  proof(htm: string, htu: string, extra?: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
}

/** `now` dates the proofs (seconds); tests with a fake server clock pass theirs. */
export async function dpopKey(alg = 'ES256', now: () => number = () => Math.floor(Date.now() / 1000)): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const jkt = await calculateJwkThumbprint(jwk);
  return {
    jwk,
    jkt,
    proof: (htm, htu, extra = {}, header = {}) =>
      new SignJWT({ htm, htu, jti: randomUUID(), iat: now(), ...extra })
        .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk, ...header })
        .sign(privateKey as KeyObject),
  };
}
