import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { test } from 'node:test';
import { FakeClock } from '../shared/clock.js';
import { ProofRejected, ProofVerifier } from './proof-verifier.js';
import { ReplayCache } from './replay-cache.js';
import { accessTokenHash, jwkThumbprint } from './jws.js';

const NOW = 1_750_000_000;
const HTU = 'https://api.example/orders';
const TOKEN = 'header.payload.signature';
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
const jkt = jwkThumbprint(jwk) as string;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs any header and payload, including ones jose would refuse to produce. */
function rawProof(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk, ...header })}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

let n = 0;
const claims = (extra: Record<string, unknown> = {}) => ({ htm: 'GET', htu: HTU, iat: NOW, jti: `proof-id-${n++}`, ath: accessTokenHash(TOKEN), ...extra });
const expectation = { htm: 'GET', htu: HTU, ath: accessTokenHash(TOKEN), jkt, now: NOW };
const checker = () => new ProofVerifier({ replay: new ReplayCache(new FakeClock(NOW)) });

function rejects(proof: string, code: string, check = checker()) {
  assert.throws(
    () => check.verify(proof, expectation),
    (error: unknown) => error instanceof ProofRejected && error.code === code,
    code,
  );
}

test('a proof signed with node:crypto verifies', () => {
  assert.ok(checker().verify(rawProof({}, claims()), expectation).jti);
});

test('critical extensions, alg none and MACs, and a missing jwk are refused', () => {
  rejects(rawProof({ crit: ['exp'] }, claims()), 'proof_header');
  rejects(rawProof({ alg: 'none' }, claims()), 'proof_header');
  rejects(rawProof({ alg: 'HS256' }, claims()), 'proof_header');
  rejects(rawProof({ jwk: undefined }, claims()), 'proof_key');
  const mac = `${b64({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: 'AAAA' } })}.${b64(claims())}`;
  rejects(`${mac}.${createHmac('sha256', 'k').update(mac).digest('base64url')}`, 'proof_header');
});

test('a key whose thumbprint is not the token binding is refused before the signature is checked', () => {
  // A broken signature with the wrong key: the mismatch is what gets reported, so no verification was spent on it.
  const proof = `${rawProof({}, claims()).slice(0, -4)}AAAA`;
  assert.throws(
    () => checker().verify(proof, { ...expectation, jkt: 'someone-else' }),
    (error: unknown) => error instanceof ProofRejected && error.code === 'proof_key_mismatch',
  );
});

test('the replay window ends with the acceptance window, so the cache stays bounded', () => {
  const clock = new FakeClock(NOW);
  const replay = new ReplayCache(clock);
  const check = new ProofVerifier({ replay });
  const proof = rawProof({}, claims());
  check.verify(proof, expectation);
  rejects(proof, 'proof_replayed', check);
  for (let i = 0; i < 100; i++) check.verify(rawProof({}, claims()), expectation);
  assert.equal(replay.size, 101);
  clock.advance(71);
  // Past iat + 60 + 10 s every entry may go: the next claim sweeps them.
  check.verify(rawProof({}, claims({ iat: NOW + 71 })), { ...expectation, now: NOW + 71 });
  assert.equal(replay.size, 1);
});

test('the header cache is keyed by the exact header text, so a changed header is checked in full', () => {
  const check = checker();
  check.verify(rawProof({}, claims()), expectation);
  rejects(rawProof({ typ: 'JWT' }, claims()), 'proof_header', check);
});
