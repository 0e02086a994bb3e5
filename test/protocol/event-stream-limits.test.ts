import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { FakeClock } from '../../src/shared/clock.js';
import { basic } from '../support/device-flow.js';
import { GATEWAY_SECRET, startServer, type TestServer } from '../support/in-process.js';
import { adminRevoke } from '../support/tokens.js';

/** One open `/events` stream, read as it arrives. */
async function openStream(issuer: string) {
  const controller = new AbortController();
  const response = await fetch(`${issuer}/events`, { headers: { authorization: basic('api-gateway', GATEWAY_SECRET) }, signal: controller.signal });
  let text = '';
  const reader = response.status === 200 ? response.body!.getReader() : undefined;
  const until = async (pattern: RegExp) => {
    const deadline = Date.now() + 5000;
    while (reader && !pattern.test(text) && Date.now() < deadline) text += Buffer.from((await reader.read()).value ?? []).toString();
    const match = pattern.exec(text);
    assert.ok(match, `stream never showed ${String(pattern)}`);
    return match;
  };
  return { response, until, close: () => controller.abort() };
}

/**
 * No open doors on `/events` (issue 10, point 7): one resource server's credentials cannot hold an unbounded number
 * of streams, and a signature is paid once per event, not once per stream. The server's clock is fake and an hour
 * from real time, so a SET dated by Date.now() instead of the injected clock shows.
 */
describe('the event stream under many subscribers', () => {
  let server: TestServer;
  const clock = new FakeClock(Math.floor(Date.now() / 1000) - 3600);

  before(async () => {
    server = await startServer({ events: { max_streams_per_client: 2 } }, clock);
    assert.equal((await adminRevoke(server, { kind: 'user', value: 'bob' })).status, 201);
  });
  after(() => server.close());

  test('past the cap a client gets 429 with Retry-After and the OAuth error JSON; closing a stream frees its slot', async () => {
    const a = await openStream(server.issuer);
    const b = await openStream(server.issuer);
    assert.equal(a.response.status, 200);
    assert.equal(b.response.status, 200);
    await Promise.all([a.until(/event: ready/), b.until(/event: ready/)]);

    const refused = await openStream(server.issuer);
    assert.equal(refused.response.status, 429);
    assert.ok(Number(refused.response.headers.get('retry-after')) > 0);
    assert.match(refused.response.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await refused.response.json()) as { error: string; error_description: string };
    assert.equal(body.error, 'slow_down');
    assert.match(body.error_description, /already holds 2 event streams/);

    a.close();
    let again = await openStream(server.issuer);
    for (const deadline = Date.now() + 5000; again.response.status !== 200 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50));
      again = await openStream(server.issuer);
    }
    assert.equal(again.response.status, 200, 'the closed stream gave its slot back');
    again.close();
    b.close();
  });

  test('every stream gets the same signed SET, backlog and live: signed once, dated by the server clock', async () => {
    // Slots of the previous test's streams come back as the server sees them close.
    let a = await openStream(server.issuer);
    for (const deadline = Date.now() + 5000; a.response.status !== 200 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50));
      a = await openStream(server.issuer);
    }
    let b = await openStream(server.issuer);
    for (const deadline = Date.now() + 5000; b.response.status !== 200 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50));
      b = await openStream(server.issuer);
    }
    const backlog = /id: 1\nevent: revocation\ndata: (\S+)/;
    const [fromA, fromB] = await Promise.all([a.until(backlog), b.until(backlog)]);
    // ECDSA signatures are randomized: two signings of the same claims never give the same text.
    assert.equal(fromA[1], fromB[1], 'the backlog SET was signed once for both streams');

    assert.equal((await adminRevoke(server, { kind: 'client', value: 'ci-bot' })).status, 201);
    const live = /id: 2\nevent: revocation\ndata: (\S+)/;
    const [liveA, liveB] = await Promise.all([a.until(live), b.until(live)]);
    assert.equal(liveA[1], liveB[1], 'the live SET was signed once for both streams');

    const set = String(liveA[1]);
    const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { kid: string; alg: string }[] };
    const header = decodeProtectedHeader(set);
    assert.equal(header.kid, jwks.keys[0]?.kid);
    assert.equal(header.alg, jwks.keys[0]?.alg);
    const claims = decodeJwt(set) as { iat: number; tether: { issued_before: number; issued_before_ms: number } };
    assert.equal(claims.iat, clock.now(), 'iat comes from the injected clock');
    assert.equal(claims.tether.issued_before, Math.floor(claims.tether.issued_before_ms / 1000));
    a.close();
    b.close();
  });
});
