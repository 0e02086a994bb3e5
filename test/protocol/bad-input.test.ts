// Malformed requests get a 4xx with an OAuth error body, never a 500.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertOAuthError, authorize, defaultDpopKey, redeem } from '../support/device-flow.js';
import { DEVICE_GRANT, postForm } from '../support/http.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { rawRequest, type RawReply } from '../support/raw-http.js';

const FORM = 'Content-Type: application/x-www-form-urlencoded';
const ENDPOINTS = ['/token', '/device_authorization'] as const;

/** A 400 whose JSON body names `error` (one of `codes` when given), uncached. */
function assertRejected(reply: RawReply, codes?: string[]): void {
  assert.equal(reply.status, 400, `HTTP ${reply.status}: ${reply.body.slice(0, 300)}`);
  assert.ok(reply.json, `not JSON: ${reply.body.slice(0, 300)}`);
  assert.equal(typeof reply.json['error'], 'string');
  if (codes) assert.ok(codes.includes(String(reply.json['error'])), `error ${String(reply.json['error'])}`);
  assert.equal(reply.headers['cache-control'], 'no-store');
}

describe('bad input at the OAuth endpoints', () => {
  let server: TestServer;
  let deviceCode: string;
  before(async () => {
    server = await startServer();
    deviceCode = (await authorize(server)).device_code;
  });
  after(() => server.close());

  const post = (path: string, headerLines: string[], body?: Buffer | string) =>
    rawRequest(server.issuer, 'POST', path, headerLines, body);

  it('refuses a JSON body', async () => {
    for (const path of ENDPOINTS) {
      const body = JSON.stringify({ grant_type: DEVICE_GRANT, client_id: 'tether-cli', device_code: deviceCode });
      assertRejected(await post(path, ['Content-Type: application/json'], body), ['invalid_request']);
    }
  });

  it('refuses a text/plain body', async () => {
    for (const path of ENDPOINTS) {
      assertRejected(await post(path, ['Content-Type: text/plain'], 'client_id=tether-cli'), ['invalid_request']);
    }
  });

  it('refuses look-alike content types', async () => {
    for (const type of ['application/x-www-form-urlencoded-evil', 'multipart/form-data; boundary=x', 'application/xml']) {
      assertRejected(await post('/device_authorization', [`Content-Type: ${type}`], 'client_id=tether-cli'), ['invalid_request']);
    }
  });

  it('accepts the form content type with a charset or in any letter case', async () => {
    for (const type of ['application/x-www-form-urlencoded; charset=UTF-8', 'Application/X-WWW-Form-URLEncoded']) {
      const reply = await post('/device_authorization', [`Content-Type: ${type}`], 'client_id=tether-cli');
      assert.equal(reply.status, 200, `${type}: ${reply.body}`);
    }
  });

  it('refuses a body without a content type', async () => {
    for (const path of ENDPOINTS) {
      assertRejected(await post(path, [], `grant_type=${encodeURIComponent(DEVICE_GRANT)}&client_id=tether-cli`));
    }
  });

  it('refuses a request without a body', async () => {
    for (const path of ENDPOINTS) {
      assertRejected(await post(path, [FORM], ''), ['invalid_request']);
      assertRejected(await post(path, [FORM]), ['invalid_request']);
      assertRejected(await post(path, []), ['invalid_request']);
    }
  });

  it('refuses a body over 16 KiB', async () => {
    const big = `client_id=tether-cli&grant_type=${encodeURIComponent(DEVICE_GRANT)}&pad=${'a'.repeat(17 * 1024)}`;
    for (const path of ENDPOINTS) assertRejected(await post(path, [FORM], big), ['invalid_request']);
  });

  it('refuses an oversized body sent in chunks, without a length', async () => {
    const chunk = `pad=${'a'.repeat(8 * 1024)}&`;
    const encoded = `${[1, 2, 3].map(() => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('')}0\r\n\r\n`;
    for (const path of ENDPOINTS) {
      assertRejected(await post(path, [FORM, 'Transfer-Encoding: chunked'], encoded), ['invalid_request']);
    }
  });

  it('refuses bytes that are not UTF-8', async () => {
    const body = Buffer.concat([Buffer.from('grant_type=x&client_id=tether-cli&device_code='), Buffer.from([0xff, 0xfe, 0xc3])]);
    for (const path of ENDPOINTS) assertRejected(await post(path, [FORM], body), ['invalid_request']);
    const latin1 = Buffer.concat([Buffer.from('client_id=tether-'), Buffer.from([0xe9])]);
    for (const path of ENDPOINTS) assertRejected(await post(path, [FORM + '; charset=iso-8859-1'], latin1));
  });

  it('answers percent-encoded bytes that are not UTF-8 with an OAuth error', async () => {
    assertRejected(await post('/token', [FORM], `grant_type=${encodeURIComponent(DEVICE_GRANT)}&client_id=tether-cli&device_code=%FF%FE`));
    assertRejected(await post('/device_authorization', [FORM], 'client_id=tether-cli&scope=%C3%28'));
    const reply = await post('/token', [FORM], `grant_type=%E0%A4%A&client_id=tether-cli&device_code=%`);
    assertRejected(reply);
  });

  it('refuses repeated parameters at the device authorization endpoint', async () => {
    const url = `${server.issuer}/device_authorization`;
    assertOAuthError(await postForm(url, { client_id: ['tether-cli', 'tether-cli'] }), 'invalid_request');
    assertOAuthError(await postForm(url, { client_id: 'tether-cli', scope: ['read', 'write'] }), 'invalid_request');
  });

  it('answers absurdly long values with the ordinary error', async () => {
    const long = 'A'.repeat(15_000);
    assertOAuthError(await redeem(server, long), 'invalid_grant');
    assertOAuthError(await postForm(`${server.issuer}/token`, { grant_type: long, client_id: 'tether-cli' }), 'unsupported_grant_type');
    const url = `${server.issuer}/device_authorization`;
    assertOAuthError(await postForm(url, { client_id: 'tether-cli', scope: long }), 'invalid_scope');
    assertOAuthError(await postForm(url, { client_id: 'tether-cli', resource: `https://x.example/${long}` }), 'invalid_target');
    const client = await postForm(url, { client_id: long });
    assert.ok([400, 401].includes(client.status));
    assert.equal(client.body['error'], 'invalid_client');
    assert.equal(client.headers.get('cache-control'), 'no-store');
    // Thousands of tiny parameters.
    const many = Array.from({ length: 3000 }, (_, i) => `p${i}=1`).join('&');
    assertRejected(await post('/token', [FORM], `${many}&client_id=tether-cli`), ['invalid_request']);
  });

  it('answers a malformed Basic header with an OAuth error', async () => {
    const headers = [
      'Basic',
      'Basic ',
      'Basic !!!not-base64!!!',
      `Basic ${Buffer.from('no-colon-here').toString('base64')}`,
      `Basic ${Buffer.from('%ZZ:secret').toString('base64')}`,
      `Basic ${Buffer.from('ci-bot:%E0%A4%A').toString('base64')}`,
      `Basic ${Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(':x')]).toString('base64')}`,
      `Basic ${Buffer.from(`ci-bot:${'s'.repeat(6000)}`).toString('base64')}`,
      'Bearer some-token',
      'Digest username="ci-bot"',
    ];
    for (const path of ENDPOINTS) {
      for (const header of headers) {
        const reply = await post(path, [FORM, `Authorization: ${header}`], `grant_type=${encodeURIComponent(DEVICE_GRANT)}&device_code=x`);
        assert.ok([400, 401].includes(reply.status), `${header.slice(0, 40)} → HTTP ${reply.status}`);
        assert.ok(['invalid_client', 'invalid_request'].includes(String(reply.json?.['error'])), `${header.slice(0, 40)}: ${reply.body}`);
        if (reply.status === 401) assert.match(reply.headers['www-authenticate'] ?? '', /^Basic\b/i);
        assert.equal(reply.headers['cache-control'], 'no-store');
      }
    }
  });

  it('answers a garbage DPoP header with invalid_dpop_proof', async () => {
    const form = `grant_type=${encodeURIComponent(DEVICE_GRANT)}&client_id=tether-cli&device_code=${deviceCode}`;
    const garbage = [
      'garbage',
      'a.b.c',
      'eyJhbGciOiJFUzI1NiJ9.e30.AAAA',
      `${Buffer.from('{"typ":"dpop+jwt","alg":"ES256","jwk":"x"}').toString('base64url')}.e30.AAAA`,
      `${Buffer.from('{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC"}}').toString('base64url')}.e30.AAAA`,
      'x'.repeat(12_000),
    ];
    for (const path of ENDPOINTS) {
      for (const value of garbage) {
        assertRejected(await post(path, [FORM, `DPoP: ${value}`], form), ['invalid_dpop_proof']);
      }
    }
  });

  it('refuses two DPoP headers', async () => {
    const key = await defaultDpopKey();
    const form = `grant_type=${encodeURIComponent(DEVICE_GRANT)}&client_id=tether-cli&device_code=${deviceCode}`;
    for (const path of ENDPOINTS) {
      const url = `${server.issuer}${path}`;
      const [a, b] = [await key.proof('POST', url), await key.proof('POST', url)];
      assertRejected(await post(path, [FORM, `DPoP: ${a}`, `DPoP: ${b}`], form), ['invalid_dpop_proof']);
      assertRejected(await post(path, [FORM, `DPoP: ${a}, ${b}`], form), ['invalid_dpop_proof']);
    }
  });

  it('does not fail on other methods at the POST-only endpoints', async () => {
    const paths = ['/token', '/device_authorization', '/device/sign-in', '/device/decision', '/jwks', '/.well-known/oauth-authorization-server'];
    for (const path of paths) {
      for (const method of ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
        const reply = await rawRequest(server.issuer, method, path, []);
        assert.ok(reply.status >= 200 && reply.status < 500, `${method} ${path} → HTTP ${reply.status}`);
      }
    }
    for (const method of ['GET', 'PUT']) {
      const reply = await rawRequest(server.issuer, method, '/token?grant_type=x', []);
      assert.ok(reply.status >= 400 && reply.status < 500, `${method} /token → HTTP ${reply.status}`);
    }
  });

  it('answers bad bodies on the verification page with a page, not a failure', async () => {
    for (const [headers, body] of [
      [['Content-Type: application/json'], '{"user_code":"BCDF-GHJK"}'],
      [[FORM], Buffer.from([0xff, 0xfe])],
      [[FORM], `user_code=${'B'.repeat(17 * 1024)}`],
      [[], 'user_code=BCDFGHJK'],
    ] as const) {
      for (const path of ['/device', '/device/sign-in', '/device/decision']) {
        const reply = await post(path, [...headers], body);
        assert.ok(reply.status >= 400 && reply.status < 500, `${path} → HTTP ${reply.status}`);
        assert.match(reply.headers['content-type'] ?? '', /^text\/html/);
      }
    }
  });

  it('logged no server error through all of this', () => {
    const errors = server.logs.map((l) => JSON.parse(l) as { level: number; msg?: string }).filter((l) => l.level >= 50);
    assert.deepEqual(errors, []);
  });
});
