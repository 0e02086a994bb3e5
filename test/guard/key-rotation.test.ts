import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { keysCommand } from '../../src/cli/commands/keys.js';
import { FakeClock } from '../../src/shared/clock.js';
import { captureIo } from '../support/cli-io.js';
import { dpopKey } from '../support/dpop.js';
import { dpopGetStatus, startGateway, type InProcessGateway } from '../support/gateway.js';
import { ADMIN_KEY, startServer, type TestServer } from '../support/in-process.js';
import { introspect, login, type LoggedIn } from '../support/tokens.js';

/**
 * `tether keys rotate` against a running server, with the gateway (guard with the remote JWKS, push revocation)
 * in front of an API. The server's clock and the guard's are one fake clock, moved past the publish-ahead delay
 * and the retirement; nothing sleeps.
 */
describe('signing key rotation at a running gateway', () => {
  const clock = new FakeClock(Math.floor(Date.now() / 1000));
  let server: TestServer;
  let running: InProcessGateway;
  let base: string;
  let env: Record<string, string>;

  const kidOf = (s: LoggedIn) => decodeProtectedHeader(s.accessToken).kid;
  const jwksKids = async () => ((await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
  const loginNow = async () => login(server, { key: await dpopKey('ES256', () => clock.now()) });
  const atGateway = (s: LoggedIn) => dpopGetStatus(base, s);

  before(async () => {
    server = await startServer({ keys: { publish_ahead: '2m' }, tokens: { access_token_ttl: '5m' } }, clock);
    env = { TETHER_ADMIN_KEY: ADMIN_KEY, TETHER_ISSUER: server.issuer };
    running = await startGateway(server, { guard: { now: () => clock.now() } });
    base = running.base;
    await running.connected.stream.ready(5_000);
  });

  after(async () => {
    await running.close();
    await server.close();
  });

  test('publish first, sign after the delay, retire after the longest token: every token verifies throughout', async () => {
    const first = await loginNow();
    const oldKid = kidOf(first);
    assert.deepEqual(await jwksKids(), [oldKid]);
    assert.equal(await atGateway(first), 200);

    // Nobody without the admin key rotates anything.
    const anonymous = await fetch(`${server.issuer}/admin/keys/rotate`, { method: 'POST' });
    assert.equal(anonymous.status, 401);
    const intruder = captureIo({ ...env, TETHER_ADMIN_KEY: 'tether_admin_not_the_key_000000000000000000' });
    assert.equal(await keysCommand(['rotate'], intruder), 5);
    assert.deepEqual(await jwksKids(), [oldKid]);

    // Rotate through the CLI: the new key is published at once, but the old one keeps signing.
    const rotate = captureIo(env);
    assert.equal(await keysCommand(['rotate'], rotate), 0, rotate.err());
    const newKid = /New signing key (\S+) is published now/.exec(rotate.out())?.[1];
    assert.ok(newKid && newKid !== oldKid);
    assert.deepEqual((await jwksKids()).sort(), [oldKid, newKid].sort());
    const beforeSwitch = await loginNow();
    assert.equal(kidOf(beforeSwitch), oldKid, 'no token is signed by the new key before guards had time to fetch it');
    assert.equal(await atGateway(beforeSwitch), 200);

    // A second rotation while the first is pending is refused (exit 1) and changes nothing.
    const again = captureIo(env);
    assert.equal(await keysCommand(['rotate'], again), 1);
    assert.match(again.err(), /rotation_in_progress/);
    assert.equal((await jwksKids()).length, 2);

    // Past the publish-ahead delay the new key signs; tokens of both keys verify at the gateway and the server.
    clock.advance(2 * 60);
    const afterSwitch = await loginNow();
    assert.equal(kidOf(afterSwitch), newKid);
    assert.equal(await atGateway(beforeSwitch), 200, 'a token of the old key still verifies');
    assert.equal(await atGateway(afterSwitch), 200, 'a token of the new key verifies');
    assert.equal((await introspect(server, beforeSwitch.accessToken))['active'], true);
    assert.equal((await introspect(server, afterSwitch.accessToken))['active'], true);

    const list = captureIo(env);
    assert.equal(await keysCommand(['list'], list), 0);
    assert.match(list.out(), new RegExp(`${newKid}\\s+signing`));
    assert.match(list.out(), new RegExp(`${oldKid}\\s+retiring`));

    // The old key stays published until the last token it signed has expired (5 min after the switch, plus 60 s)...
    clock.advance(5 * 60 + 59);
    assert.deepEqual((await jwksKids()).sort(), [oldKid, newKid].sort());
    // ...and then leaves the JWKS; the new one carries on.
    clock.advance(1);
    assert.deepEqual(await jwksKids(), [newKid]);
    const later = await loginNow();
    assert.equal(kidOf(later), newKid);
    assert.equal(await atGateway(later), 200);
  });
});
