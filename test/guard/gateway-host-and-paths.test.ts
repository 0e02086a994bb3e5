// The gateway cannot be fooled by the Host header or by paths that servers read differently. Raw sockets (so the
// Host line and the request-target go out exactly as written) against a running gateway in front of a recording
// upstream; each attack carries a valid token and a proof that names exactly what it sends.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { unsafePathReason } from '../../src/guard/gateway.js';
import { dpopKey, type DpopKey } from '../support/dpop.js';
import { startGateway, type InProcessGateway, type Upstream } from '../support/gateway.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { rawRequest } from '../support/raw-http.js';
import { login } from '../support/tokens.js';

describe('the gateway against Host and path tricks', () => {
  let server: TestServer;
  let running: InProcessGateway;
  let upstream: Upstream;
  let base: string;
  let key: DpopKey;
  let token: string;
  let ath: string;

  before(async () => {
    server = await startServer();
    // No publicUrl: the default is the bound address, as `tether gateway` prints it.
    running = await startGateway(server);
    ({ upstream, base } = running);
    key = await dpopKey();
    const [session] = await Promise.all([login(server, { key }), running.connected.stream.ready(5_000)]);
    token = session.accessToken;
    ath = createHash('sha256').update(token).digest('base64url');
  });

  after(async () => {
    await running.close();
    await server.close();
  });

  /** A GET through the gateway with the token and a proof for `htu`, sending `extra` header lines. */
  const send = async (path: string, htu: string, extra: string[] = []) =>
    rawRequest(base, 'GET', path, [`Authorization: DPoP ${token}`, `DPoP: ${await key.proof('GET', htu, { ath })}`, ...extra], undefined, {
      keepOpen: true,
    });

  test('a proof for another origin, sent with that origin as Host, is refused', async () => {
    const before = upstream.seen.length;
    const reply = await send('/x', 'http://evil.example/x', ['Host: evil.example']);
    assert.equal(reply.status, 401, reply.body);
    assert.equal(reply.json?.['error'], 'invalid_dpop_proof');
    assert.equal(upstream.seen.length, before, 'never forwarded');
  });

  test('a proof for the public URL passes whatever the Host, and the upstream is told the public origin', async () => {
    const reply = await send('/x?page=2', `${base}/x`, ['Host: evil.example', 'X-Forwarded-Host: evil.example', 'Forwarded: host=evil.example']);
    assert.equal(reply.status, 200, reply.body);
    const seen = upstream.seen.at(-1);
    assert.ok(seen);
    assert.equal(seen.url, '/base/x?page=2');
    assert.equal(seen.headers['x-forwarded-host'], new URL(base).host);
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['forwarded'], undefined);
    assert.notEqual(seen.headers['host'], 'evil.example');
  });

  const unsafe = [
    '/a/../admin',
    '/a/./admin',
    '/..',
    '/a/%2e%2e/admin',
    '/a/%2E%2E/admin',
    '/a/.%2e/admin',
    '/a/..;/admin',
    '/a%2fadmin',
    '/a%2Fadmin',
    '/a%5cadmin',
    '/a\\admin',
    '//evil.example/admin',
    '/a%00b',
  ];
  for (const path of unsafe) {
    test(`${path} is refused with 400 and never forwarded`, async () => {
      const before = upstream.seen.length;
      // The proof names the path exactly as sent: on its own it would pass.
      const reply = await send(path, `${base}${path}`);
      assert.equal(reply.status, 400, `${path}: ${reply.status} ${reply.body}`);
      assert.equal(reply.json?.['error'], 'invalid_request');
      assert.equal(upstream.seen.length, before, `${path} reached the upstream`);
    });
  }

  test('an absolute-form request-target is refused too', async () => {
    const before = upstream.seen.length;
    const reply = await send('http://evil.example/admin', 'http://evil.example/admin');
    assert.equal(reply.status, 400);
    assert.equal(upstream.seen.length, before);
  });

  test('a proof for the normalized path does not pass for the dot-segment path', async () => {
    const reply = await send('/a/../admin', `${base}/admin`);
    assert.equal(reply.status, 400);
  });

  test('ordinary paths are untouched: the upstream sees the path the proof named', async () => {
    for (const path of ['/orders/7', '/a.b/c..d/.e', '/files/%20name', '/x;y=1']) {
      const reply = await send(path, `${base}${path}`);
      assert.equal(reply.status, 200, `${path}: ${reply.body}`);
      assert.equal(upstream.seen.at(-1)?.url, `/base${path}`);
    }
  });

  test('unsafePathReason names why', () => {
    assert.match(String(unsafePathReason('/a/../b')), /dot-segments/);
    assert.equal(unsafePathReason('/a/b?x=../y'), undefined, 'the query is not a path');
  });
});
