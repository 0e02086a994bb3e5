import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dpopKey } from '../support/dpop.js';
import { postForm } from '../support/http.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { ath, login, type LoggedIn } from '../support/tokens.js';
import { ACCESS_TOKEN_TYPE, JWT_BEARER, JWT_TYPE, TOKEN_EXCHANGE } from './support.js';

/** Malformed requests to the workload API and the new grants: always the RFC's JSON error, never a 5xx. */
describe('bad input to workloads', () => {
  let server: TestServer;
  let alice: LoggedIn;

  before(async () => {
    server = await startServer();
    alice = await login(server);
  });
  after(() => server.close());

  const raw = async (method: string, path: string, body: string | undefined, contentType = 'application/json') => {
    const url = `${server.issuer}${path}`;
    const response = await fetch(url, {
      method,
      headers: {
        authorization: `DPoP ${alice.accessToken}`,
        dpop: await alice.key.proof(method, url, { ath: await ath(alice.accessToken) }),
        ...(body !== undefined ? { 'content-type': contentType } : {}),
      },
      ...(body !== undefined ? { body } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
  };

  test('the workload API answers malformed bodies with invalid_request', async () => {
    const bodies = [
      '{',
      '[]',
      'null',
      '"x"',
      '{}',
      JSON.stringify({ name: 'a', purpose: 'p', resources: 'x', scopes: ['read'], expires_in: 10, public_key: {} }),
      JSON.stringify({ name: '-bad', purpose: 'p', resources: [server.api], scopes: ['read'], expires_in: 10, public_key: { kty: 'EC' } }),
      JSON.stringify({ name: 'a', purpose: 'p', resources: [server.api], scopes: ['read'], expires_in: 1.5, public_key: {} }),
      JSON.stringify({ name: 'a', purpose: 'p', resources: [server.api], scopes: ['read'], expires_in: 10, public_key: { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' } }),
      JSON.stringify({ name: 'a', purpose: 'p', resources: [server.api], scopes: ['read'], expires_in: 10, public_key: { kty: 'oct', k: 'c2VjcmV0' } }),
      JSON.stringify({ name: 'a', purpose: 'p', resources: [server.api], scopes: ['read'], expires_in: 10, federated: { issuer: 'x', subject: 's' }, public_key: {} }),
      JSON.stringify({ name: 'a', purpose: 'p', resources: [server.api], scopes: ['read'], expires_in: 10, extra: 1, public_key: {} }),
      JSON.stringify({ name: 'a', purpose: 'p', resources: [server.api], scopes: ['read'], expires_in: 10, federated: { issuer: 'x', subject: 's', claims: { a: 1 } } }),
    ];
    for (const body of bodies) {
      const reply = await raw('POST', '/workloads', body);
      assert.ok(reply.status >= 400 && reply.status < 500, `${body}: ${reply.status}`);
      assert.equal(typeof reply.body['error'], 'string', body);
    }
    for (const [body, type] of [['name=a', 'application/x-www-form-urlencoded'], ['x'.repeat(20_000), 'application/json'], ['{}', 'text/plain']]) {
      const reply = await raw('POST', '/workloads', body, type);
      assert.ok(reply.status >= 400 && reply.status < 500, `${type}: ${reply.status}`);
      assert.equal(reply.body['error'], 'invalid_request');
    }
    const garbled = await raw('GET', '/workloads/%00%ff', undefined);
    assert.ok(garbled.status === 400 || garbled.status === 404, String(garbled.status));
    assert.equal((await raw('GET', '/workloads/00000000-0000-7000-8000-000000000000', undefined)).status, 404);
    assert.equal((await raw('POST', '/workloads/nope/rotate-key', '{"public_key":{}}')).status, 404);
    assert.equal((await fetch(`${server.issuer}/workloads`)).status, 401);
  });

  test('the token endpoint answers malformed exchanges with the RFC\'s error', async () => {
    const url = `${server.issuer}/token`;
    const key = await dpopKey();
    const forms: Record<string, string>[] = [
      { grant_type: TOKEN_EXCHANGE },
      { grant_type: TOKEN_EXCHANGE, subject_token: 'x' },
      { grant_type: TOKEN_EXCHANGE, subject_token: 'x', subject_token_type: JWT_TYPE },
      { grant_type: TOKEN_EXCHANGE, subject_token: 'a.b.c', subject_token_type: JWT_TYPE },
      { grant_type: TOKEN_EXCHANGE, subject_token: 'x', subject_token_type: ACCESS_TOKEN_TYPE, tether_actor: 'a' },
      { grant_type: TOKEN_EXCHANGE, subject_token: alice.accessToken, subject_token_type: ACCESS_TOKEN_TYPE, tether_actor: ' bad' },
      { grant_type: TOKEN_EXCHANGE, subject_token: alice.accessToken, subject_token_type: ACCESS_TOKEN_TYPE, actor_token_type: ACCESS_TOKEN_TYPE },
      { grant_type: JWT_BEARER },
      { grant_type: JWT_BEARER, assertion: 'x' },
      { grant_type: JWT_BEARER, assertion: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ3b3JrbG9hZDp4In0.' },
    ];
    for (const form of forms) {
      const reply = await postForm(url, form, { DPoP: await key.proof('POST', url) });
      assert.equal(reply.status, 400, `${JSON.stringify(form)}: ${JSON.stringify(reply.body)}`);
      assert.ok(['invalid_request', 'invalid_grant', 'invalid_dpop_proof'].includes(String(reply.body['error'])), JSON.stringify(reply.body));
    }
    const repeated = await postForm(url, { grant_type: TOKEN_EXCHANGE, subject_token: ['a', 'b'], subject_token_type: JWT_TYPE } as never, {
      DPoP: await key.proof('POST', url),
    });
    assert.equal(repeated.body['error'], 'invalid_request');
  });
});
