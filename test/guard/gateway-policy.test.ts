import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import type { ReloadOutcome } from '../../src/guard/api-policy.js';
import type { ConnectedGuard } from '../../src/guard/connect.js';
import { startGateway, type InProcessGateway, type Upstream } from '../support/gateway.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { memoryLogger, oidcClient, oidcLogin, refusalOf, until, type OidcSession } from './support.js';

const TEAM = `@id("baseline")
permit (principal, action, resource);

@id("contractors-read-only")
@reason("Contractors may only read this API.")
forbid (principal in Tether::Group::"contractors", action == Tether::Action::"CallResource", resource)
when { context.method != "GET" && context.method != "HEAD" };
`;

const FREEZE = `@id("change-freeze")
@reason("Change freeze: no writes until Monday.")
forbid (principal, action == Tether::Action::"CallResource", resource)
when { context.method == "POST" };
`;

/**
 * A real Tether issuing tokens with the `groups` claim, `tether gateway`'s guard with a policy directory in front of
 * an unchanged API, and openid-client (the independent client) calling through it with DPoP: the Cedar rule that
 * `tether policy test` refuses (a contractor's POST) is refused at the gateway and never reaches the API; a policy
 * change is in force on the next request, and an invalid change is refused while the previous set stays.
 */
describe('the gateway decides every request with Cedar policies', () => {
  let server: TestServer;
  let running: InProcessGateway;
  let upstream: Upstream;
  let connected: ConnectedGuard;
  let base: string;
  let config: client.Configuration;
  let alice: OidcSession;
  let bob: OidcSession;
  let dir: string;
  const reloads: ReloadOutcome[] = [];
  const logger = memoryLogger();

  const call = (s: OidcSession, method = 'GET', path = '/orders') =>
    client.fetchProtectedResource(config, s.accessToken, new URL(`${base}${path}`), method, method === 'GET' ? undefined : '{}', new Headers({ 'content-type': 'application/json' }), { DPoP: s.dpop });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tether-gateway-policy-'));
    writeFileSync(join(dir, '10-team.cedar'), TEAM);
    server = await startServer({ device_flow: { code_ttl: '5m', interval: 1 } });
    running = await startGateway(server, {
      logger,
      guard: { policies: dir, policyOptions: { debounceMs: 50, onReload: (outcome) => reloads.push(outcome) } },
    });
    ({ upstream, connected, base } = running);
    config = await oidcClient(server);
    [alice, bob] = await Promise.all([
      oidcLogin(server, config, { scope: 'read write' }, 'alice'),
      oidcLogin(server, config, { scope: 'read write' }, 'bob'),
      connected.stream.ready(5_000),
    ]);
  });

  after(async () => {
    await running.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('tokens carry the groups claim from the user directory', () => {
    const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;
    assert.deepEqual(claims(alice.accessToken)['groups'], ['engineering']);
    assert.deepEqual(claims(bob.accessToken)['groups'], ['contractors']);
  });

  test('allow: an engineer writes, a contractor reads; deny: a contractor writes, 403 with the reason, never forwarded', async () => {
    assert.equal((await call(alice, 'POST')).status, 200);
    assert.equal(upstream.seen.at(-1)?.method, 'POST');
    assert.equal((await call(bob, 'GET')).status, 200);

    const before = upstream.seen.length;
    const denied = await refusalOf(call(bob, 'POST'));
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.body, { error: 'insufficient_scope', error_description: 'Contractors may only read this API.' });
    assert.equal(denied.scheme?.toLowerCase(), 'dpop');
    assert.deepEqual([denied.params['error'], denied.params['error_description']], ['insufficient_scope', 'Contractors may only read this API.']);
    assert.equal(upstream.seen.length, before, 'the refused POST never reached the API');
    const line = logger.lines.find((l) => l.includes('guard: refused by policy'));
    assert.ok(line?.includes('"policies":["contractors-read-only"]'), 'the denial is logged with its policy');
    assert.ok(line?.includes('"sub":"bob"'));
    assert.ok(!logger.lines.some((l) => l.includes(bob.accessToken) || l.includes(alice.accessToken)), 'no token in the log');
  });

  test('reload: a new file is in force on the next request, even over a cached allow; an invalid change keeps the set', async () => {
    assert.equal((await call(alice, 'POST')).status, 200, 'allowed, and the decision cached');
    const generation = connected.policy?.loaded.generation ?? 0;
    writeFileSync(join(dir, '20-freeze.cedar'), FREEZE);
    await until(() => reloads.some((r) => r.status === 'loaded'), 5_000, 'the reload');
    assert.equal(connected.policy?.loaded.generation, generation + 1);
    const frozen = await refusalOf(call(alice, 'POST'));
    assert.deepEqual([frozen.status, frozen.body['error_description']], [403, 'Change freeze: no writes until Monday.']);

    // An invalid change: refused and logged; the freeze and the team rules stay in force.
    writeFileSync(join(dir, '20-freeze.cedar'), FREEZE.replace('context.method', 'context.verb'));
    await until(() => reloads.some((r) => r.status === 'refused'), 5_000, 'the refused reload');
    assert.ok(logger.lines.some((l) => l.startsWith('error policy change refused; the previous policies stay in force')));
    assert.equal(connected.policy?.loaded.generation, generation + 1);
    assert.equal((await refusalOf(call(alice, 'POST'))).status, 403, 'the freeze is still in force');
    assert.equal((await call(bob, 'GET')).status, 200, 'and so is the rest of the set');
  });
});
