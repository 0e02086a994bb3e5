// Two real Tether instances on one PostgreSQL database, behind a round-robin proxy written here: they must
// behave as one server. Each test plays the attack (or the race) against real HTTP and fails on per-process state.
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { auditCommand } from '../../src/cli/commands/audit.js';
import { after, before, describe, test } from 'node:test';
import { authorize, basic, decide } from '../support/device-flow.js';
import { dpopKey } from '../support/dpop.js';
import { postForm } from '../support/http.js';
import { GATEWAY_SECRET, startServer, type TestServer } from '../support/in-process.js';
import { freePort } from '../support/ports.js';
import { DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT } from '../../src/config/schema.js';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../support/postgres.js';
import { adminRevoke, ath, login } from '../support/tokens.js';
import { createGateway } from '../../src/guard/gateway.js';
import { Guard } from '../../src/guard/guard.js';
import { RemoteJwks } from '../../src/guard/keys.js';
import { RevocationStream } from '../../src/guard/revocation-stream.js';
import { listen, memoryLogger, startUpstream, until } from '../guard/support.js';
import { FormBrowser } from '../support/browser-form.js';

/** A well-formed user code no request holds (fixed letters, so the test is repeatable). */
const wrongCode = (i: number) => `ZZZZ-ZZZ${'BCDFGHJKLM'[i]}`;

const skip = postgresSkipReason();

/**
 * Forwards each request to the next instance in turn, streaming both ways (the event stream is long-lived).
 * `targets` may change while it runs: the test takes a stopped instance out, as a load balancer's health check would.
 */
function roundRobin(port: number, targets: string[]): Promise<Server> {
  let next = 0;
  const proxy = createServer((req, res) => {
    const target = new URL(targets[next++ % targets.length]!);
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.writeHead(502).end();
    });
    req.pipe(upstream);
  });
  return new Promise((resolve) => proxy.listen(port, '127.0.0.1', () => resolve(proxy)));
}

describe('two instances on one PostgreSQL database', { skip }, () => {
  let pg: TestPostgres;
  let a: TestServer;
  let b: TestServer;
  let proxy: Server;
  let targets: string[];
  /** The cluster as clients see it: the proxy's address is the issuer of both instances. */
  let cluster: TestServer;

  before(async () => {
    pg = await startPostgres();
    const url = await pg.database();
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    // The same configuration on both, as behind a real load balancer: the proxy's address is the issuer, and the
    // API and clients name it (the test tenant's defaults would name each instance's own port).
    const api = `${issuer}/api`;
    const shared = {
      issuer,
      storage: { engine: 'postgres', url },
      brute_force: { code_entry: { per_session: { free_failures: 0, base_delay: 1, max_delay: 1, max_failures: 4, window: '15m' } } },
      resources: [{ uri: api, name: 'Cluster API', scopes: ['read', 'write'] }],
      clients: [
        { id: 'tether-cli', name: 'Tether CLI', grants: [DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT], scopes: ['read', 'write'], resources: [api], default_resource: api },
        { id: 'api-gateway', name: 'API gateway', type: 'confidential', secret: GATEWAY_SECRET, grants: [DEVICE_CODE_GRANT], resources: [api], introspection: true },
      ],
    };
    // One after the other: the first creates the signing key and CSRF key, the second finds them.
    a = await startServer(shared);
    b = await startServer(shared);
    targets = [a.issuer, b.issuer];
    proxy = await roundRobin(port, targets);
    cluster = { ...a, issuer, api: `${issuer}/api` };
    assert.equal((proxy.address() as AddressInfo).port, port);
  });

  after(async () => {
    proxy?.close();
    proxy?.closeAllConnections();
    await a?.close();
    await b?.close();
    await pg?.stop();
  });

  /** The instance `server` reached directly, under the cluster's issuer (what `htu` and `aud` name). */
  const direct = (server: TestServer) => server.issuer;

  test('a whole login through the proxy works, whichever instance serves each step', async () => {
    const session = await login(cluster);
    assert.ok(session.accessToken.length > 0);
    assert.ok(session.refreshToken.length > 0);
  });

  test('concurrent redemptions spread over both instances give exactly one token', async () => {
    const key = await dpopKey();
    const codes = await authorize(cluster, { client_id: 'tether-cli' }, { DPoP: await key.proof('POST', `${cluster.issuer}/device_authorization`) });
    await decide(cluster, codes.user_code);
    const replies = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const target = i % 2 === 0 ? a : b;
        // The proof names the cluster's token endpoint, as a client behind the load balancer signs it.
        const proof = await key.proof('POST', `${cluster.issuer}/token`);
        return postForm(
          `${direct(target)}/token`,
          { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: codes.device_code, client_id: 'tether-cli' },
          { DPoP: proof },
        );
      }),
    );
    const issued = replies.filter((r) => r.status === 200);
    assert.equal(issued.length, 1, replies.map((r) => `${r.status} ${String(r.body['error'])}`).join(', '));
    for (const r of replies.filter((x) => x.status !== 200)) {
      assert.equal(r.status, 400);
      assert.ok(['invalid_grant', 'slow_down'].includes(String(r.body['error'])), String(r.body['error']));
    }
  });

  test('a DPoP proof accepted by one instance is refused by the other', async () => {
    const key = await dpopKey();
    const proof = await key.proof('POST', `${cluster.issuer}/device_authorization`);
    const first = await postForm(`${direct(a)}/device_authorization`, { client_id: 'tether-cli' }, { DPoP: proof });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const replayed = await postForm(`${direct(b)}/device_authorization`, { client_id: 'tether-cli' }, { DPoP: proof });
    assert.equal(replayed.status, 400);
    assert.equal(replayed.body['error'], 'invalid_dpop_proof');
  });

  test("a revocation made on A reaches B's event stream within a second", async () => {
    const response = await fetch(`${direct(b)}/events`, { headers: { authorization: basic('api-gateway', GATEWAY_SECRET) } });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    let text = '';
    const until = async (pattern: RegExp, ms: number) => {
      const deadline = Date.now() + ms;
      while (!pattern.test(text) && Date.now() < deadline) {
        const chunk = await Promise.race([reader.read(), new Promise<undefined>((r) => setTimeout(() => r(undefined), Math.max(1, deadline - Date.now())))]);
        if (chunk?.value) text += Buffer.from(chunk.value).toString();
      }
      assert.match(text, pattern);
    };
    await until(/event: ready/, 5000);
    const started = Date.now();
    const revoked = await adminRevoke(a, { kind: 'user', value: 'bob', reason: 'cluster test' });
    assert.ok(revoked.status < 300, JSON.stringify(revoked.body));
    // Polling the database every few seconds would also get there, but not this fast: this is the notification.
    await until(/event: revocation\ndata: \S+/, 1000);
    assert.ok(Date.now() - started < 1000);
    await reader.cancel();
  });

  test('a revocation made on A is enforced within a second by a gateway subscribed to B', async () => {
    const logger = memoryLogger();
    const keys = new RemoteJwks({ url: `${direct(b)}/jwks`, logger });
    // The gateway's push channel goes to B alone; the revocation is made on A.
    const stream = new RevocationStream({
      issuer: cluster.issuer,
      eventsUrl: `${direct(b)}/events`,
      clientId: 'api-gateway',
      clientSecret: GATEWAY_SECRET,
      keys,
      staleAfterMs: 5_000,
      logger,
    });
    const guard = new Guard({ issuer: cluster.issuer, audience: cluster.api, keys, revocations: stream, logger });
    stream.start();
    const upstream = await startUpstream();
    const gateway = createGateway({ guard, upstream: upstream.url, scopes: ['read'], logger });
    const base = `http://127.0.0.1:${await listen(gateway)}`;
    try {
      await stream.ready(5_000);
      const victim = await login(cluster, { scope: 'read' });
      const call = async () => {
        const url = `${base}/orders/7`;
        const response = await fetch(url, {
          headers: { authorization: `DPoP ${victim.accessToken}`, dpop: await victim.key.proof('GET', url, { ath: await ath(victim.accessToken) }) },
        });
        await response.arrayBuffer();
        return response.status;
      };
      assert.equal(await call(), 200);
      const start = performance.now();
      const revoked = await adminRevoke(a, { kind: 'jkt', value: victim.key.jkt, reason: 'laptop stolen' });
      assert.ok(revoked.status < 300, JSON.stringify(revoked.body));
      await until(async () => (await call()) === 401, 1_000, 'the revocation made on A to be enforced by the gateway on B');
      const elapsed = performance.now() - start;
      assert.ok(elapsed < 1_000, `took ${elapsed} ms`);
    } finally {
      stream.close();
      gateway.closeAllConnections();
      await new Promise<void>((resolve) => gateway.close(() => resolve()));
      gateway.closeUpstream();
      await upstream.close();
    }
  });

  test('wrong codes entered through both instances are counted once: the session limit holds', async () => {
    const browser = new FormBrowser(cluster.issuer);
    await browser.get('/device');
    const statuses: number[] = [];
    // Each request goes to the other instance than the one before (round robin): two failures land on each.
    for (let i = 0; i < 4; i++) {
      await browser.post('/device', { user_code: wrongCode(i) });
      statuses.push(browser.lastStatus);
    }
    assert.deepEqual(statuses, [400, 400, 400, 400]);
    await browser.post('/device', { user_code: wrongCode(9) });
    assert.equal(browser.lastStatus, 429, 'the fifth guess of the session is refused, on whichever instance');
    await browser.get('/device'); // the refusal page carries no form: open the entry page again (and move on)
    await browser.post('/device', { user_code: wrongCode(8) });
    assert.equal(browser.lastStatus, 429, 'and on the other one too');
  });

  test('polls alternating between the instances are paced as one: the second gets slow_down', async () => {
    const codes = await authorize(cluster);
    const key = await dpopKey();
    const poll = async (target: TestServer) =>
      postForm(
        `${direct(target)}/token`,
        { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: codes.device_code, client_id: 'tether-cli' },
        { DPoP: await key.proof('POST', `${cluster.issuer}/token`) },
      );
    const first = await poll(a);
    assert.equal(first.body['error'], 'authorization_pending');
    const second = await poll(b);
    assert.equal(second.status, 400);
    assert.equal(second.body['error'], 'slow_down', 'B knows A was just polled');
  });

  test('checkpoints signed by each instance as it stops; `tether audit verify` passes over the one chain', async () => {
    await login(cluster);
    targets.splice(targets.indexOf(a.issuer), 1);
    await a.close(); // A signs the head as it stops…
    await login(cluster); // …B goes on alone…
    await b.close(); // …and signs the later head.
    const dir = mkdtempSync(join(tmpdir(), 'tether-cluster-'));
    try {
      const file = join(dir, 'tether.yaml');
      const { storage, issuer, scopes, clients } = a.config;
      writeFileSync(file, JSON.stringify({ issuer, scopes, clients: clients.slice(0, 1).map((c) => ({ id: c.id, name: c.name })), storage: { engine: storage.engine, url_env: 'CLUSTER_DB' } }));
      let out = '';
      let err = '';
      const io = {
        stdout: new Writable({ write: (c: Buffer, _e, done) => ((out += c.toString()), done()) }),
        stderr: new Writable({ write: (c: Buffer, _e, done) => ((err += c.toString()), done()) }),
        stdin: process.stdin,
        env: { CLUSTER_DB: storage.url! },
      };
      const code = await auditCommand(['verify', '--config', file], io);
      assert.equal(code, 0, err);
      const match = /Audit chain intact: (\d+) events, (\d+) signed checkpoints verified/.exec(out);
      assert.ok(match, out);
      assert.ok(Number(match[1]) > 20, out);
      assert.ok(Number(match[2]) >= 2, 'one checkpoint from each instance');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
