// Authorization server metadata (RFC 8414), the JWKS, and tokens verifiable with them (RFC 9068).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { authorize, decide, defaultDpopKey, redeem } from '../support/device-flow.js';
import { DEVICE_GRANT } from '../support/http.js';
import { startServer, type TestServer } from '../support/in-process.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

describe('metadata and keys', () => {
  let server: TestServer;
  let metadata: Record<string, unknown>;
  let jwks: JSONWebKeySet;
  before(async () => {
    server = await startServer();
    const response = await fetch(`${server.issuer}/.well-known/oauth-authorization-server`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    metadata = (await response.json()) as Record<string, unknown>;
    const keys = await fetch(String(metadata['jwks_uri']));
    assert.equal(keys.status, 200);
    assert.match(keys.headers.get('content-type') ?? '', /^application\/(jwk-set\+)?json/);
    jwks = (await keys.json()) as JSONWebKeySet;
  });
  after(() => server.close());

  it('publishes the RFC 8414 fields for this issuer', () => {
    assert.equal(metadata['issuer'], server.issuer);
    assert.equal(metadata['token_endpoint'], `${server.issuer}/token`);
    assert.equal(metadata['device_authorization_endpoint'], `${server.issuer}/device_authorization`);
    assert.equal(metadata['jwks_uri'], `${server.issuer}/jwks`);
    assert.ok((metadata['grant_types_supported'] as string[]).includes(DEVICE_GRANT));
    assert.deepEqual(metadata['response_types_supported'], []);
    const authMethods = metadata['token_endpoint_auth_methods_supported'] as string[];
    for (const method of ['none', 'client_secret_basic', 'client_secret_post']) assert.ok(authMethods.includes(method), method);
    for (const scope of ['read', 'write', 'admin']) assert.ok((metadata['scopes_supported'] as string[]).includes(scope));
  });

  it('advertises only asymmetric DPoP algorithms', () => {
    const algs = metadata['dpop_signing_alg_values_supported'] as string[];
    assert.ok(algs.includes('ES256'));
    for (const alg of algs) assert.doesNotMatch(alg, /^(none|HS\d+)$/i);
  });

  it('publishes public ES256 signing keys with kid and no private members', () => {
    assert.ok(Array.isArray(jwks.keys) && jwks.keys.length >= 1);
    for (const key of jwks.keys) {
      assert.equal(typeof key.kid, 'string');
      assert.ok((key.kid ?? '').length > 0);
      assert.equal(key.alg, 'ES256');
      assert.equal(key.kty, 'EC');
      assert.equal(key.crv, 'P-256');
      for (const member of PRIVATE_MEMBERS) assert.ok(!(member in key), `JWKS key exposes "${member}"`);
    }
    assert.equal(new Set(jwks.keys.map((k) => k.kid)).size, jwks.keys.length, 'kids are unique');
  });

  it('issues access tokens that verify with the published keys', async () => {
    const codes = await authorize(server);
    await decide(server, codes.user_code);
    const reply = await redeem(server, codes.device_code);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    assert.equal(reply.body['token_type'], 'DPoP');
    assert.equal(reply.body['scope'], 'read write');
    assert.equal(typeof reply.body['expires_in'], 'number');
    const token = String(reply.body['access_token']);
    const header = decodeProtectedHeader(token);
    assert.equal(header.typ, 'at+jwt');
    assert.ok(jwks.keys.some((k) => k.kid === header.kid));
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: server.issuer,
      audience: server.api,
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    assert.equal(payload['client_id'], 'tether-cli');
    assert.equal(payload.sub !== undefined, true);
    assert.equal(payload.exp, (payload.iat ?? 0) + Number(reply.body['expires_in']));
    assert.equal(typeof payload.jti, 'string');
    assert.equal(typeof payload['sid'], 'string');
    assert.deepEqual(payload['cnf'], { jkt: (await defaultDpopKey()).jkt });
  });

  it('caps the token lifetime by the resource', async () => {
    const codes = await authorize(server, { client_id: 'tether-cli', resource: 'https://payroll.example', scope: 'read' });
    await decide(server, codes.user_code);
    const reply = await redeem(server, codes.device_code);
    assert.equal(reply.status, 200);
    assert.equal(reply.body['expires_in'], 120);
  });
});
