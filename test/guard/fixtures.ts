import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK, type KeyObject } from 'jose';
import { Guard, type GuardOptions, type GuardRequest } from '../../src/guard/guard.js';
import { StaticJwks } from '../../src/guard/keys.js';
import { silentLogger } from '../../src/guard/logger.js';
import { dpopKey, type DpopKey } from '../support/dpop.js';

export { dpopKey, type DpopKey };

export const ISSUER = 'https://as.example';
export const AUDIENCE = 'https://api.example';
export const URL_CALLED = 'https://api.example/orders/7';

/** An issuer's ES256 signing key with its published JWKS, as Tether publishes it (kid = thumbprint). */
export interface IssuerKey {
  privateKey: KeyObject;
  kid: string;
  jwk: JWK;
  jwks: { keys: JWK[] };
}

export async function issuerKey(): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const published = { ...jwk, kid, alg: 'ES256', use: 'sig' };
  return { privateKey: privateKey as KeyObject, kid, jwk: published, jwks: { keys: [published] } };
}

/** An RFC 9068 access token as Tether mints it; `claims` and `header` override or add. */
export function accessToken(
  key: IssuerKey,
  opts: { now: number; jkt?: string | null; claims?: Record<string, unknown>; header?: Record<string, unknown>; ttl?: number },
): Promise<string> {
  const claims: Record<string, unknown> = {
    iss: ISSUER,
    sub: 'alice',
    aud: AUDIENCE,
    client_id: 'tether-cli',
    scope: 'read write',
    sid: 'grant-1',
    auth_time: opts.now - 60,
    iat: opts.now,
    exp: opts.now + (opts.ttl ?? 600),
    jti: randomUUID(),
    ...opts.claims,
  };
  if (opts.jkt !== null && opts.jkt !== undefined) claims['cnf'] = { jkt: opts.jkt };
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid, ...opts.header }).sign(key.privateKey);
}

/** A settable clock in seconds, shared by the guard and the client's proofs. */
export function fakeClock(start = 1_750_000_000): { now: () => number; advance(seconds: number): void; set(seconds: number): void } {
  let t = start;
  return {
    now: () => t,
    advance: (s) => {
      t += s;
    },
    set: (s) => {
      t = s;
    },
  };
}

/** A guard over a static key set, silent, on the given clock. */
export function testGuard(key: IssuerKey, now: () => number, extra: Partial<GuardOptions> = {}): Guard {
  return new Guard({ issuer: ISSUER, audience: AUDIENCE, keys: new StaticJwks(key.jwks), now, logger: silentLogger, ...extra });
}

/** A DPoP request as a client sends it: the token with the DPoP scheme and a fresh proof for the URL. */
export async function dpopRequest(
  client: DpopKey,
  token: string,
  opts: { method?: string; url?: string; proofClaims?: Record<string, unknown>; proofHeader?: Record<string, unknown>; scheme?: string } = {},
): Promise<GuardRequest> {
  const method = opts.method ?? 'GET';
  const url = opts.url ?? URL_CALLED;
  const { createHash } = await import('node:crypto');
  const ath = createHash('sha256').update(token).digest('base64url');
  return {
    method,
    url,
    authorization: `${opts.scheme ?? 'DPoP'} ${token}`,
    dpop: await client.proof(method, url.split('?')[0] as string, { ath, ...opts.proofClaims }, opts.proofHeader),
    ip: '192.0.2.10',
    userAgent: 'test',
  };
}
