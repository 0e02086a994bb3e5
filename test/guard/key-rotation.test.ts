import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { keysCommand } from '../../src/cli/commands/keys.js';
import type { CliIO } from '../../src/cli/io.js';
import { connectGuard, type ConnectedGuard } from '../../src/guard/connect.js';
import { createGateway } from '../../src/guard/gateway.js';
import { FakeClock } from '../../src/shared/clock.js';
import { dpopKey } from '../support/dpop.js';
import { ADMIN_KEY, GATEWAY_SECRET, startServer, type TestServer } from '../support/in-process.js';
import { ath, introspect, login, type LoggedIn } from '../support/tokens.js';
import { listen, memoryLogger, startUpstream } from './support.js';

function io(env: Record<string, string>): CliIO & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { stdout, stderr, stdin: new PassThrough(), env, out: () => out, err: () => err };
}

/**
 * `tether keys rotate` against a running server, with the gateway (guard with the remote JWKS, push revocation)
 * in front of an API. The server's clock and the guard's are one fake clock, moved past the publish-ahead delay
 * and the retirement; nothing sleeps.
 */
describe('signing key rotation at a running gateway', () => {
  const clock = new FakeClock(Math.floor(Date.now() / 1000));
  let server: TestServer;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let connected: ConnectedGuard;
  let gateway: Server & { closeUpstream(): void };
  let base: string;
  let env: Record<string, string>;

  const kidOf = (s: LoggedIn) => decodeProtectedHeader(s.accessToken).kid;
  const jwksKids = async () => ((await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
  const loginNow = async () => login(server, { key: await dpopKey('ES256', () => clock.now()) });
  const atGateway = async (s: LoggedIn) => {
    const url = `${base}/orders`;
    const proof = await s.key.proof('GET', url, { ath: await ath(s.accessToken) });
    return (await fetch(url, { headers: { authorization: `DPoP ${s.accessToken}`, dpop: proof } })).status;
  };

  before(async () => {
    server = await startServer({ keys: { publish_ahead: '2m' }, tokens: { access_token_ttl: '5m' } }, clock);
    env = { TETHER_ADMIN_KEY: ADMIN_KEY, TETHER_ISSUER: server.issuer };
    upstream = await startUpstream();
    connected = await connectGuard({
      issuer: server.issuer,
      audience: server.api,
      clientId: 'api-gateway',
      clientSecret: GATEWAY_SECRET,
      logger: memoryLogger(),
      now: () => clock.now(),
    });
    gateway = createGateway({ guard: connected.guard, upstream: upstream.url, logger: memoryLogger() });
    base = `http://127.0.0.1:${await listen(gateway)}`;
    await connected.stream.ready(5_000);
  });

  after(async () => {
    await connected.close();
    gateway.closeAllConnections();
    await new Promise<void>((resolve) => gateway.close(() => resolve()));
    gateway.closeUpstream();
    await upstream.close();
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
    const intruder = io({ ...env, TETHER_ADMIN_KEY: 'tether_admin_not_the_key_000000000000000000' });
    assert.equal(await keysCommand(['rotate'], intruder), 5);
    assert.deepEqual(await jwksKids(), [oldKid]);

    // Rotate through the CLI: the new key is published at once, but the old one keeps signing.
    const rotate = io(env);
    assert.equal(await keysCommand(['rotate'], rotate), 0, rotate.err());
    const newKid = /New signing key (\S+) is published now/.exec(rotate.out())?.[1];
    assert.ok(newKid && newKid !== oldKid);
    assert.deepEqual((await jwksKids()).sort(), [oldKid, newKid].sort());
    const beforeSwitch = await loginNow();
    assert.equal(kidOf(beforeSwitch), oldKid, 'no token is signed by the new key before guards had time to fetch it');
    assert.equal(await atGateway(beforeSwitch), 200);

    // A second rotation while the first is pending is refused (exit 1) and changes nothing.
    const again = io(env);
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

    const list = io(env);
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
