import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type KeyObject } from 'jose';
import { decodeSegment, importPublicJwk, jwkThumbprint, splitCompactJws, verifyJws, type JwsAlgorithm } from './jws.js';

async function signed(alg: JwsAlgorithm, options: Record<string, unknown> = {}) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...options });
  const jwk = await exportJWK(publicKey);
  const token = await new SignJWT({ hello: 'world' }).setProtectedHeader({ alg }).sign(privateKey as KeyObject);
  return { jwk, token };
}

for (const alg of ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'] as const) {
  test(`${alg}: a jose signature verifies, a changed payload does not`, async () => {
    const { jwk, token } = await signed(alg);
    const key = importPublicJwk(jwk, alg);
    assert.ok(key);
    const jws = splitCompactJws(token);
    assert.ok(jws);
    assert.equal(verifyJws(alg, key, jws.signingInput, jws.signature), true);
    const tampered = `${jws.signingInput.slice(0, -2)}AA`;
    assert.equal(verifyJws(alg, key, tampered, jws.signature), false);
  });
}

test('thumbprints match RFC 7638 as jose computes them', async () => {
  for (const alg of ['ES256', 'EdDSA', 'RS256'] as const) {
    const { jwk } = await signed(alg);
    assert.equal(jwkThumbprint(jwk as Record<string, unknown>), await calculateJwkThumbprint(jwk));
  }
  // RFC 7638 §3.1's example key.
  const rfc = {
    kty: 'RSA',
    n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    e: 'AQAB',
    alg: 'RS256',
    kid: '2011-04-29',
  };
  assert.equal(jwkThumbprint(rfc), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
});

test('keys are refused when private, of the wrong kind, or too small', async () => {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const privateJwk = await exportJWK(privateKey);
  assert.equal(importPublicJwk(privateJwk, 'ES256'), undefined);
  const { jwk: p384 } = await signed('ES384');
  assert.equal(importPublicJwk(p384, 'ES256'), undefined);
  const { jwk: ed } = await signed('EdDSA');
  assert.equal(importPublicJwk(ed, 'ES256'), undefined);
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
  assert.equal(importPublicJwk(small, 'RS256'), undefined);
  assert.equal(importPublicJwk('not a key', 'ES256'), undefined);
  assert.equal(importPublicJwk({ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }, 'ES256'), undefined);
});

test('only strict compact JWS with JSON object segments is accepted', async () => {
  const { token } = await signed('ES256');
  assert.ok(splitCompactJws(token));
  for (const bad of ['', 'a.b', 'a.b.c.d', '.b.c', 'a..c', 'a.b.', `${token}=`, token.replace('.', '.+'), `${token} `]) {
    assert.equal(splitCompactJws(bad), undefined, bad.slice(0, 20));
  }
  assert.equal(decodeSegment(Buffer.from('[1]').toString('base64url')), undefined);
  assert.equal(decodeSegment(Buffer.from('null').toString('base64url')), undefined);
  assert.equal(decodeSegment(Buffer.from('{').toString('base64url')), undefined);
  assert.deepEqual(decodeSegment(Buffer.from('{"a":1}').toString('base64url')), { a: 1 });
});

test('a signature of the wrong length is refused before any maths', async () => {
  const { jwk, token } = await signed('ES256');
  const key = importPublicJwk(jwk, 'ES256');
  const jws = splitCompactJws(token);
  assert.ok(key && jws);
  assert.equal(verifyJws('ES256', key, jws.signingInput, Buffer.concat([jws.signature, Buffer.alloc(1)])), false);
});
