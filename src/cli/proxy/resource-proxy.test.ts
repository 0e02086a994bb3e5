import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { NonceCache } from '../auth/oauth-http.js';
import { InProcessRefreshLock } from '../auth/refresh-lock.js';
import { TokenSource } from '../auth/token-source.js';
import { KeyringStore, type KeyringBackend } from '../secrets/keyring-store.js';
import { AuthorizedSender } from './authorized-sender.js';
import { startResourceProxy, type ResourceProxy } from './resource-proxy.js';

/** What the upstream saw of one request. */
interface Seen {
  path: string;
  authorization?: string;
  proofOk?: boolean;
  proofError?: string;
  nonce?: unknown;
  body: string;
}

/**
 * A small resource server that checks tokens and DPoP proofs with jose, as any API would (RFC 9449 §7): the
 * proof's signature by its jwk, htm, htu, ath, and, when asked to, a nonce. It also plays the token endpoint.
 */
class Upstream {
  server!: Server;
  origin = '';
  seen: Seen[] = [];
  validTokens = new Set(['at-1']);
  demandNonce = false;

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += chunk;
    const path = req.url ?? '/';
    if (path === '/token') {
      this.validTokens.add('at-2');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: 'at-2', token_type: 'DPoP', expires_in: 600, refresh_token: 'rt-2' }));
      return;
    }
    const seen: Seen = { path, body, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) };
    this.seen.push(seen);
    if (!path.startsWith('/api')) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('public');
      return;
    }
    const token = /^DPoP (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    try {
      const proof = String(req.headers['dpop']);
      const { payload } = await jwtVerify(proof, await importJWK(decodeProtectedHeader(proof).jwk as JWK, 'ES256'), { typ: 'dpop+jwt' });
      assert.equal(payload['htm'], req.method);
      assert.equal(payload['htu'], `${this.origin}${path.split('?')[0]}`);
      assert.equal(payload['ath'], createHash('sha256').update(token).digest('base64url'));
      seen.proofOk = true;
      seen.nonce = payload['nonce'];
    } catch (error) {
      seen.proofOk = false;
      seen.proofError = (error as Error).message;
    }
    if (this.demandNonce && seen.nonce !== 'srv-nonce') {
      res.writeHead(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'srv-nonce' }).end();
      return;
    }
    if (!this.validTokens.has(token) || !seen.proofOk) {
      res.writeHead(401, { 'www-authenticate': 'DPoP error="invalid_token"' }).end();
      return;
    }
    if (path === '/api/moved') {
      res.writeHead(302, { location: `${this.origin}/api/here` }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'x-api': 'yes' });
    res.end(JSON.stringify({ ok: true, path, body }));
  }
}

function mapBackend(): KeyringBackend {
  const entries = new Map<string, string>();
  return {
    name: 'map',
    get: async (s, a) => entries.get(`${s}/${a}`) ?? null,
    set: async (s, a, v) => void entries.set(`${s}/${a}`, v),
    delete: async (s, a) => void entries.delete(`${s}/${a}`),
  };
}

function send(url: string, init: { method?: string; headers?: Record<string, string>; body?: string; proxy?: URL } = {}) {
  return new Promise<{ status: number; headers: IncomingMessage['headers']; body: string }>((resolve, reject) => {
    const target = new URL(url);
    const via = init.proxy;
    const req = httpRequest(
      {
        host: via ? via.hostname : target.hostname,
        port: via ? via.port : target.port,
        path: via ? url : `${target.pathname}${target.search}`,
        method: init.method ?? 'GET',
        headers: init.headers ?? {},
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('the exec proxy', () => {
  const upstream = new Upstream();
  let proxy: ResourceProxy;
  let store: KeyringStore;
  before(async () => {
    await upstream.start();
  });
  after(async () => {
    await proxy?.close();
    upstream.server.closeAllConnections();
    await new Promise<void>((resolve) => upstream.server.close(() => resolve()));
  });
  beforeEach(async () => {
    await proxy?.close();
    upstream.seen = [];
    upstream.demandNonce = false;
    upstream.validTokens = new Set(['at-1']);
    store = new KeyringStore(mapBackend());
    const key = await store.createKey('acct');
    await store.writeTokens('acct', { accessToken: 'at-1', accessTokenExpiresAt: Math.floor(Date.now() / 1000) + 600, refreshToken: 'rt-1' });
    const nonces = new NonceCache();
    const tokens = new TokenSource({
      account: 'acct',
      clientId: 'tether-cli',
      tokenEndpoint: `${upstream.origin}/token`,
      store,
      key,
      lock: new InProcessRefreshLock(),
      fetch,
      nonces,
      now: () => Math.floor(Date.now() / 1000),
    });
    proxy = await startResourceProxy({
      resource: `${upstream.origin}/api`,
      sender: new AuthorizedSender({ fetch, tokens, key, nonces }),
      fetch,
    });
  });

  test('base URL: each request gets the token and a proof the API accepts; the response comes back whole', async () => {
    const reply = await send(`${proxy.apiUrl}/items?x=1`, { method: 'POST', body: 'a=1', headers: { 'content-type': 'text/plain' } });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['x-api'], 'yes');
    assert.deepEqual(JSON.parse(reply.body), { ok: true, path: '/api/items?x=1', body: 'a=1' });
    assert.equal(upstream.seen[0]?.proofOk, true, upstream.seen[0]?.proofError);
    assert.equal(upstream.seen[0]?.authorization, 'DPoP at-1');
  });

  test('a caller cannot choose the credentials: its own Authorization is replaced', async () => {
    await send(`${proxy.apiUrl}/x`, { headers: { authorization: 'DPoP stolen', dpop: 'forged' } });
    assert.equal(upstream.seen[0]?.authorization, 'DPoP at-1');
    assert.equal(upstream.seen[0]?.proofOk, true);
  });

  test('without the per-run capability the proxy refuses and the API is not called', async () => {
    const base = new URL(proxy.apiUrl);
    const reply = await send(`${base.origin}/not-the-capability/x`);
    assert.equal(reply.status, 403);
    assert.equal(upstream.seen.length, 0);
    const escape = await send(`${proxy.apiUrl}/../token`);
    assert.notEqual(escape.status, 200);
    assert.ok(upstream.seen.every((s) => s.path.startsWith('/api')), 'nothing outside the resource got credentials');
  });

  test('HTTP_PROXY: resource URLs get credentials, other URLs pass through without them, no password no service', async () => {
    const proxyUrl = new URL(proxy.proxyUrl);
    const auth = `Basic ${Buffer.from(`tether:${decodeURIComponent(proxyUrl.password)}`).toString('base64')}`;
    const api = await send(`${upstream.origin}/api/x`, { proxy: proxyUrl, headers: { 'proxy-authorization': auth } });
    assert.equal(api.status, 200);
    const other = await send(`${upstream.origin}/public`, { proxy: proxyUrl, headers: { 'proxy-authorization': auth } });
    assert.equal(other.body, 'public');
    assert.equal(upstream.seen.at(-1)?.authorization, undefined, 'no token for a URL outside the resource');
    const anonymous = await send(`${upstream.origin}/api/x`, { proxy: proxyUrl });
    assert.equal(anonymous.status, 407);
  });

  test('an API that demands a DPoP nonce gets one retry with it, and later requests carry it at once', async () => {
    upstream.demandNonce = true;
    assert.equal((await send(`${proxy.apiUrl}/a`, { method: 'PUT', body: 'payload' })).status, 200);
    assert.deepEqual(upstream.seen.map((s) => [s.nonce, s.body]), [[undefined, 'payload'], ['srv-nonce', 'payload']]);
    assert.equal((await send(`${proxy.apiUrl}/b`)).status, 200);
    assert.equal(upstream.seen.length, 3);
  });

  test('a token the API calls invalid is refreshed once and the request retried; the newest refresh token is stored', async () => {
    upstream.validTokens = new Set();
    const reply = await send(`${proxy.apiUrl}/a`);
    assert.equal(reply.status, 200);
    assert.deepEqual(upstream.seen.map((s) => s.authorization), ['DPoP at-1', 'DPoP at-2']);
    assert.equal((await store.readTokens('acct'))?.refreshToken, 'rt-2');
  });

  test('a redirect within the resource is rewritten to come back through the proxy', async () => {
    const reply = await send(`${proxy.apiUrl}/moved`);
    assert.equal(reply.status, 302);
    assert.equal(reply.headers.location, `${proxy.apiUrl}/here`);
  });
});
