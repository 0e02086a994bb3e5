import assert from 'node:assert/strict';
import { KeyObject, sign } from 'node:crypto';
import { test } from 'node:test';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { InMemoryClientKey } from '../cli/auth/dpop-key.js';
import { InvalidRequest } from '../oauth/errors.js';
import { FakeClock } from '../shared/clock.js';
import { DeviceStatementVerifier, MAX_STATEMENT_LIFETIME, STATEMENT_LEEWAY } from './device-attestation.js';

const ISSUER = 'https://auth.example';
const LOGIN_JKT = 'x'.repeat(43);

/** The CLI's own signer against the server's verifier: the format is one. */
test("the CLI's statement verifies, names the device key, and only once", async () => {
  const clock = new FakeClock();
  const { key } = await InMemoryClientKey.generate({ extractable: false, now: () => clock.now() });
  const verifier = new DeviceStatementVerifier(ISSUER, clock);
  const statement = await key.attest({ aud: ISSUER, cnfJkt: LOGIN_JKT });
  assert.deepEqual(verifier.verify(statement, LOGIN_JKT).deviceJkt, key.jkt);
  assert.throws(() => verifier.verify(statement, LOGIN_JKT), /already used/);
});

test('expiry at the edge of the leeway; iat slightly ahead is tolerated, far ahead is not', async () => {
  const clock = new FakeClock();
  const { key } = await InMemoryClientKey.generate({ extractable: false, now: () => clock.now() });
  const made = await key.attest({ aud: ISSUER, cnfJkt: LOGIN_JKT });
  clock.advance(MAX_STATEMENT_LIFETIME + STATEMENT_LEEWAY - 1);
  assert.equal(new DeviceStatementVerifier(ISSUER, clock).verify(made, LOGIN_JKT).deviceJkt, key.jkt);
  clock.advance(1);
  assert.throws(() => new DeviceStatementVerifier(ISSUER, clock).verify(made, LOGIN_JKT), (e) => e instanceof InvalidRequest && /expired/.test(e.message));

  const early = new FakeClock(clock.now() - STATEMENT_LEEWAY);
  const ahead = await (await InMemoryClientKey.generate({ extractable: false, now: () => clock.now() })).key.attest({ aud: ISSUER, cnfJkt: LOGIN_JKT });
  assert.ok(new DeviceStatementVerifier(ISSUER, early).verify(ahead, LOGIN_JKT));
  const tooEarly = new FakeClock(clock.now() - STATEMENT_LEEWAY - 1);
  assert.throws(() => new DeviceStatementVerifier(ISSUER, tooEarly).verify(ahead, LOGIN_JKT), /future/);
});

test('a jti is scoped by device key: one device cannot burn another one\'s ids', async () => {
  const clock = new FakeClock();
  const verifier = new DeviceStatementVerifier(ISSUER, clock);
  const make = async (jti: string) => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const iss = await calculateJwkThumbprint(jwk);
    return new SignJWT({ iss, aud: ISSUER, cnf: { jkt: LOGIN_JKT }, iat: clock.now(), exp: clock.now() + 30, jti })
      .setProtectedHeader({ alg: 'ES256', typ: 'tether-device+jwt', jwk })
      .sign(privateKey as CryptoKey);
  };
  assert.ok(verifier.verify(await make('shared-jti-1'), LOGIN_JKT));
  assert.ok(verifier.verify(await make('shared-jti-1'), LOGIN_JKT));
});

test('header tricks: alg none, HS256, a private jwk, crit, no jwk', async () => {
  const clock = new FakeClock();
  const verifier = new DeviceStatementVerifier(ISSUER, clock);
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  const iss = await calculateJwkThumbprint(jwk);
  const claims = { iss, aud: ISSUER, cnf: { jkt: LOGIN_JKT }, iat: clock.now(), exp: clock.now() + 30, jti: 'header-trick-1' };
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const none = `${b64({ alg: 'none', typ: 'tether-device+jwt', jwk })}.${b64(claims)}.`;
  assert.throws(() => verifier.verify(none, LOGIN_JKT), InvalidRequest);
  const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'tether-device+jwt' }).sign(new Uint8Array(32));
  assert.throws(() => verifier.verify(hs, LOGIN_JKT), /alg/);
  const privateJwk = await exportJWK(privateKey);
  const leaky = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'tether-device+jwt', jwk: privateJwk }).sign(privateKey as CryptoKey);
  assert.throws(() => verifier.verify(leaky, LOGIN_JKT), /public key/);
  // jose will not sign an unknown crit extension; sign it by hand, validly, so only crit is wrong.
  const critInput = `${b64({ alg: 'ES256', typ: 'tether-device+jwt', jwk, crit: ['x'], x: 1 })}.${b64(claims)}`;
  const critSignature = sign('sha256', Buffer.from(critInput), { key: KeyObject.from(privateKey as CryptoKey), dsaEncoding: 'ieee-p1363' });
  const crit = `${critInput}.${critSignature.toString('base64url')}`;
  assert.throws(() => verifier.verify(crit, LOGIN_JKT), /crit/);
  const bare = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'tether-device+jwt' }).sign(privateKey as CryptoKey);
  assert.throws(() => verifier.verify(bare, LOGIN_JKT), /jwk/);
});
