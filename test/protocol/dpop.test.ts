// DPoP (RFC 9449) at the device authorization and token endpoints: key binding and proof validation.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { assertOAuthError, authorize, decide, redeem } from '../support/device-flow.js';
import { dpopKey, type DpopKey } from '../support/dpop.js';
import { postForm } from '../support/http.js';
import { startServer, type TestServer } from '../support/in-process.js';

const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('DPoP', () => {
  let server: TestServer;
  let tokenUrl: string;
  before(async () => {
    server = await startServer();
    tokenUrl = `${server.issuer}/token`;
  });
  after(() => server.close());

  /** Device codes bound to `key` by a proof at the device authorization endpoint. */
  async function boundCodes(key: DpopKey) {
    const url = `${server.issuer}/device_authorization`;
    return authorize(server, { client_id: 'tether-cli' }, { DPoP: await key.proof('POST', url) });
  }

  const poll = (deviceCode: string, proof: string) =>
    redeem(server, deviceCode, { client_id: 'tether-cli' }, { DPoP: proof });

  it('redeems a bound code only with a proof by the same key', async () => {
    const key = await dpopKey();
    const other = await dpopKey();
    const codes = await boundCodes(key);
    await decide(server, codes.user_code);

    assertOAuthError(await redeem(server, codes.device_code, undefined, {}, other), 'invalid_grant');
    // Without any proof: refused, whether as a grant bound elsewhere or as a missing proof.
    const unproven = await redeem(server, codes.device_code, undefined, {}, null);
    assert.ok(['invalid_grant', 'invalid_dpop_proof'].includes(String(unproven.body['error'])), JSON.stringify(unproven.body));
    assertOAuthError(unproven, String(unproven.body['error']));
    const reply = await redeem(server, codes.device_code, undefined, {}, key);
    assert.equal(reply.status, 200);
    assert.equal(reply.body['token_type'], 'DPoP');
    assert.deepEqual(decodeJwt(String(reply.body['access_token']))['cnf'], { jkt: key.jkt });
  });

  it('does not let another key poll a bound code while it is pending', async () => {
    const key = await dpopKey();
    const codes = await boundCodes(key);
    assertOAuthError(await redeem(server, codes.device_code, undefined, {}, await dpopKey()), 'invalid_grant');
  });

  it('binds the token to the key of the redeeming proof when the code was not bound', async () => {
    const key = await dpopKey('EdDSA');
    const codes = await authorize(server);
    await decide(server, codes.user_code);
    const reply = await redeem(server, codes.device_code, undefined, {}, key);
    assert.equal(reply.status, 200);
    assert.equal(reply.body['token_type'], 'DPoP');
    assert.deepEqual(decodeJwt(String(reply.body['access_token']))['cnf'], { jkt: key.jkt });
  });

  it('refuses a replayed proof', async () => {
    const key = await dpopKey();
    const codes = await boundCodes(key);
    const proof = await key.proof('POST', tokenUrl);
    assertOAuthError(await poll(codes.device_code, proof), 'authorization_pending');
    assertOAuthError(await poll(codes.device_code, proof), 'invalid_dpop_proof');
  });

  it('refuses a proof replayed at the device authorization endpoint', async () => {
    const key = await dpopKey();
    const url = `${server.issuer}/device_authorization`;
    const proof = await key.proof('POST', url);
    await authorize(server, { client_id: 'tether-cli' }, { DPoP: proof });
    assertOAuthError(await postForm(url, { client_id: 'tether-cli' }, { DPoP: proof }), 'invalid_dpop_proof');
  });

  describe('proof validation', () => {
    let key: DpopKey;
    let deviceCode: string;
    before(async () => {
      key = await dpopKey();
      const codes = await boundCodes(key);
      deviceCode = codes.device_code;
      await decide(server, codes.user_code);
    });

    const cases: Array<[string, () => Promise<string>]> = [
      ['wrong htu (another endpoint)', () => key.proof('POST', `${server.issuer}/device_authorization`)],
      ['wrong htu (another host)', () => key.proof('POST', 'https://evil.example/token')],
      ['wrong htm', () => key.proof('GET', tokenUrl)],
      ['lower-case htm', () => key.proof('post', tokenUrl)],
      ['stale iat', () => key.proof('POST', tokenUrl, { iat: now() - 600 })],
      ['iat in the future', () => key.proof('POST', tokenUrl, { iat: now() + 600 })],
      ['no iat', () => key.proof('POST', tokenUrl, { iat: undefined })],
      ['no jti', () => key.proof('POST', tokenUrl, { jti: undefined })],
      ['wrong typ', () => key.proof('POST', tokenUrl, {}, { typ: 'JWT' })],
      ['no jwk', () => key.proof('POST', tokenUrl, {}, { jwk: undefined })],
      [
        'alg none',
        async () => `${b64({ typ: 'dpop+jwt', alg: 'none', jwk: key.jwk })}.${b64({ htm: 'POST', htu: tokenUrl, jti: randomUUID(), iat: now() })}.`,
      ],
      [
        'HS256 with a symmetric jwk',
        async () => {
          const secret = randomBytes(32);
          return new SignJWT({ htm: 'POST', htu: tokenUrl, jti: randomUUID(), iat: now() })
            .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: secret.toString('base64url') } as JWK })
            .sign(secret);
        },
      ],
      [
        'HS256 keyed with the public key (algorithm confusion)',
        async () =>
          new SignJWT({ htm: 'POST', htu: tokenUrl, jti: randomUUID(), iat: now() })
            .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.jwk })
            .sign(Buffer.from(JSON.stringify(key.jwk))),
      ],
      [
        'private key in the jwk header',
        async () => {
          const { privateKey } = await generateKeyPair('ES256', { extractable: true });
          const jwk: JWK = await exportJWK(privateKey);
          return new SignJWT({ htm: 'POST', htu: tokenUrl, jti: randomUUID(), iat: now() })
            .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
            .sign(privateKey);
        },
      ],
      [
        'signed by a key other than the one in the header',
        async () => {
          const { privateKey } = await generateKeyPair('ES256');
          return new SignJWT({ htm: 'POST', htu: tokenUrl, jti: randomUUID(), iat: now() })
            .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
            .sign(privateKey);
        },
      ],
      [
        'tampered payload',
        async () => {
          const [h, , s] = (await key.proof('POST', tokenUrl)).split('.');
          return `${h}.${b64({ htm: 'POST', htu: tokenUrl, jti: randomUUID(), iat: now() })}.${s}`;
        },
      ],
    ];

    for (const [name, make] of cases) {
      it(`refuses a proof: ${name}`, async () => {
        assertOAuthError(await poll(deviceCode, await make()), 'invalid_dpop_proof');
      });
    }

    it('still redeems the code with a valid proof after all those refusals', async () => {
      const reply = await redeem(server, deviceCode, undefined, {}, key);
      assert.equal(reply.status, 200);
    });
  });
});
