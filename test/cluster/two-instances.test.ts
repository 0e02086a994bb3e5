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
import { GATEWAY_SECRET, startServer, TEST_PASSWORD, type TestServer } from '../support/in-process.js';
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
import { hashPassword } from '../../src/users/password.js';

/** A well-formed user code (twelve letters) no request holds (fixed letters, so the test is repeatable). */
const wrongCode = (i: number) => `ZZZZ-ZZZZ-ZZZ${'BCDFGHJKLM'[i]}`;

/** The page for a code that was checked and matched nothing: a counted guess, not a malformed one. */
const NO_SUCH_CODE = 'That code is not valid or has expired.';

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
    const passwordHash = await hashPassword(TEST_PASSWORD);
    const shared = {
      issuer,
      storage: { engine: 'postgres', url },
      // Limits that hold for minutes once reached (no race with the clock's second), each reached by its own test:
      // four wrong codes per session, six per account, four wrong passwords per account before a ten-minute wait.
      brute_force: {
        code_entry: {
          per_session: { free_failures: 3, base_delay: 600, max_delay: 600, max_failures: 4, window: '15m' },
          per_account: { free_failures: 5, base_delay: 600, max_delay: 600, max_failures: 6, window: '15m' },
          per_ip: { free_failures: 100, base_delay: 1, max_delay: 1, window: '15m' },
        },
        sign_in: {
          per_account: { free_failures: 3, base_delay: 600, max_delay: 600, window: '15m' },
          per_ip: { free_failures: 100, base_delay: 1, max_delay: 1, window: '15m' },
        },
        // Every request of this file comes from 127.0.0.1: its device-code caps would get in the way.
        device_authorization: { per_ip_requests: 100_000, live_codes_per_ip: 100_000 },
      },
      // carol is the target of the bursts, so the accounts the tests before them slowed play no part.
      users: [
        { username: 'alice', name: 'Alice', password_hash: passwordHash },
        { username: 'bob', name: 'Bob', password_hash: passwordHash },
        { username: 'carol', name: 'Carol', password_hash: passwordHash },
      ],
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

  /** A refusal for minutes: the limit reached, not a one-second slow-down another second would lift. */
  const assertHeldBack = (browser: FormBrowser, where: string) => {
    assert.equal(browser.lastStatus, 429, where);
    assert.ok(Number(browser.lastHeaders.get('retry-after')) > 60, `${where}: Retry-After ${browser.lastHeaders.get('retry-after')}`);
  };

  test('wrong codes entered through both instances are counted once: the session limit holds', async () => {
    const browser = new FormBrowser(cluster.issuer);
    // Signing in is the page's first step; its requests too alternate between the instances.
    const page = await browser.signIn('alice');
    assert.ok(page.includes('action="/device"'), `signed in (HTTP ${browser.lastStatus})`);
    const statuses: number[] = [];
    // Each request goes to the other instance than the one before (round robin): two failures land on each.
    for (let i = 0; i < 4; i++) {
      await browser.post('/device', { user_code: wrongCode(i) });
      statuses.push(browser.lastStatus);
      assert.ok(browser.lastPage.includes(NO_SUCH_CODE), `guess ${i + 1} was checked`);
    }
    assert.deepEqual(statuses, [400, 400, 400, 400]);
    // Counted per instance, each would have seen two failures of the session's four and let this guess through.
    await browser.post('/device', { user_code: wrongCode(9) });
    assertHeldBack(browser, 'the fifth guess of the session is refused, on whichever instance');
    // The refusal page carries no form: open the entry page again, twice, so the next guess goes to the other instance.
    await browser.get('/device');
    await browser.get('/device');
    await browser.post('/device', { user_code: wrongCode(8) });
    assertHeldBack(browser, 'and on the other one too');
  });

  test('wrong codes from fresh sessions of one account through both instances are counted once: the account limit holds', async () => {
    // A new browser session per guess escapes the session limit; the account's count follows it over both instances.
    const guess = async (i: number) => {
      const browser = new FormBrowser(cluster.issuer);
      const page = await browser.signIn('bob');
      assert.ok(page.includes('action="/device"'), `bob signed in (HTTP ${browser.lastStatus})`);
      await browser.post('/device', { user_code: wrongCode(i) });
      return browser;
    };
    for (let i = 0; i < 6; i++) {
      const browser = await guess(i);
      assert.equal(browser.lastStatus, 400, `guess ${i + 1}`);
      assert.ok(browser.lastPage.includes(NO_SUCH_CODE), `guess ${i + 1} was checked`);
    }
    assertHeldBack(await guess(7), "bob's seventh guess is refused although his session is new");
    assertHeldBack(await guess(8), 'and through the other instance too');
  });

  // After the account-limit test: bob's slowed sign-in would hold that one back.
  test('wrong passwords for one account through both instances are counted once: the account is slowed', async () => {
    const browser = new FormBrowser(cluster.issuer);
    await browser.get('/device');
    for (let i = 0; i < 4; i++) {
      await browser.post('/device/sign-in', { username: 'bob', password: `not bob's password ${i}` });
      assert.equal(browser.lastStatus, 401, `wrong password ${i + 1}`);
    }
    // Two wrong passwords on each instance; one instance counting alone would not slow the account yet.
    await browser.post('/device/sign-in', { username: 'bob', password: TEST_PASSWORD });
    assertHeldBack(browser, 'the next sign-in to bob waits, even with the right password');
    // Two page loads, so the next sign-in goes to the other instance than the refused one.
    await browser.get('/device');
    await browser.get('/device');
    await browser.post('/device/sign-in', { username: 'bob', password: TEST_PASSWORD });
    assertHeldBack(browser, 'on the other instance too');
  });

  /** The form posted at once by each browser (its cookie and CSRF token), through the proxy. */
  const burst = (browsers: FormBrowser[], path: string, form: (i: number) => Record<string, string>) =>
    Promise.all(
      browsers.map(async (browser, i) => {
        const response = await fetch(`${cluster.issuer}${path}`, {
          method: 'POST',
          headers: { cookie: browser.cookieHeader, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ csrf: browser.csrf(), ...form(i) }).toString(),
          redirect: 'manual',
        });
        return { status: response.status, page: await response.text() };
      }),
    );

  test('a burst of wrong codes from one account, in flight on both instances at once, gets no more checked than the account limit', async () => {
    // Twelve sessions of one account, so no session's own limit (nor anything a session serializes) plays a part.
    const browsers: FormBrowser[] = [];
    for (let i = 0; i < 12; i++) {
      const browser = new FormBrowser(cluster.issuer);
      const page = await browser.signIn('carol');
      assert.ok(page.includes('action="/device"'), `carol signed in (HTTP ${browser.lastStatus})`);
      browsers.push(browser);
    }
    // Sent together: a limit that checks first and counts after would let every one through before any counted.
    const replies = await burst(browsers, '/device', (i) => ({ user_code: `ZZZZ-ZZZZ-ZZX${'BCDFGHJKLMNP'[i]}` }));
    // Each one either checked (and matching nothing) or held back: none refused for another reason.
    const checked = replies.filter((r) => r.status === 400 && r.page.includes(NO_SUCH_CODE)).length;
    const held = replies.filter((r) => r.status === 429).length;
    assert.equal(checked + held, 12, replies.map((r) => r.status).join(' '));
    assert.ok(checked <= 6, `${checked} of 12 codes checked; the account allows 6`);
  });

  test('a burst of wrong passwords for one account, in flight on both instances at once, gets no more checked than its free failures', async () => {
    const browser = new FormBrowser(cluster.issuer);
    await browser.get('/device');
    const replies = await burst(Array.from({ length: 12 }, () => browser), '/device/sign-in', (i) => ({ username: 'carol', password: `not carol's password ${i}` }));
    // Each one either checked (and wrong) or held back: none refused for another reason.
    assert.ok(replies.every((r) => r.status === 401 || r.status === 429), replies.map((r) => r.status).join(' '));
    const checked = replies.filter((r) => r.status === 401 && r.page.includes('action="/device/sign-in"')).length;
    assert.ok(checked <= 4, `${checked} of 12 passwords checked; the account allows 3 free failures, then a 10-minute wait`);
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
