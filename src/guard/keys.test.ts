import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issuerKey } from '../../test/guard/fixtures.js';
import { KeysUnavailable, RemoteJwks, StaticJwks } from './keys.js';
import { silentLogger } from './logger.js';

function fakeFetch(bodies: () => unknown) {
  const calls: string[] = [];
  const impl = (async (url: string | URL | Request) => {
    calls.push(String(url));
    const body = bodies();
    if (body instanceof Error) throw body;
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { impl, calls };
}

test('a new kid is fetched once when first seen; an unknown one is not fetched for again', async () => {
  const first = await issuerKey();
  const second = await issuerKey();
  let published = first.jwks.keys;
  const { impl, calls } = fakeFetch(() => ({ keys: published }));
  let nowMs = 0;
  const jwks = new RemoteJwks({ url: 'https://as.example/jwks', fetch: impl, logger: silentLogger, nowMs: () => nowMs, cooldownMs: 0 });
  assert.ok(await jwks.getKey(first.kid, 'ES256'));
  assert.ok(await jwks.getKey(first.kid, 'ES256'));
  assert.equal(calls.length, 1);
  published = [...first.jwks.keys, ...second.jwks.keys];
  assert.ok(await jwks.getKey(second.kid, 'ES256'), 'rotation: the new kid triggers a refetch');
  assert.equal(calls.length, 2);
  assert.equal(await jwks.getKey('made-up', 'ES256'), undefined);
  assert.equal(await jwks.getKey('made-up', 'ES256'), undefined);
  assert.equal(calls.length, 3, 'one fetch for the unknown kid, not one per request');
  nowMs = 11 * 60_000;
  await jwks.getKey(first.kid, 'ES256');
  assert.equal(calls.length, 4, 'the set is refreshed after its max age');
});

test('made-up kids cannot make the guard hammer the issuer: one fetch per cooldown', async () => {
  const key = await issuerKey();
  const { impl, calls } = fakeFetch(() => key.jwks);
  let nowMs = 0;
  const jwks = new RemoteJwks({ url: 'https://as.example/jwks', fetch: impl, logger: silentLogger, nowMs: () => nowMs });
  await jwks.getKey(key.kid, 'ES256');
  for (let i = 0; i < 50; i++) await jwks.getKey(`random-${i}`, 'ES256');
  assert.equal(calls.length, 2);
  nowMs += 5_001;
  await jwks.getKey('random-again', 'ES256');
  assert.equal(calls.length, 3);
});

test('a failed refresh keeps the keys already known; with none known the keys are unavailable', async () => {
  const key = await issuerKey();
  let fail = false;
  const { impl } = fakeFetch(() => (fail ? new Error('connection refused') : key.jwks));
  let nowMs = 0;
  const jwks = new RemoteJwks({ url: 'https://as.example/jwks', fetch: impl, logger: silentLogger, nowMs: () => nowMs });
  assert.ok(await jwks.getKey(key.kid, 'ES256'));
  fail = true;
  nowMs = 11 * 60_000;
  assert.ok(await jwks.getKey(key.kid, 'ES256'));
  const cold = new RemoteJwks({ url: 'https://as.example/jwks', fetch: impl, logger: silentLogger });
  await assert.rejects(cold.getKey(key.kid, 'ES256'), KeysUnavailable);
});

test('without a kid, a key is used only when it is the only one that fits', async () => {
  const a = await issuerKey();
  const b = await issuerKey();
  assert.ok(await new StaticJwks(a.jwks).getKey(undefined, 'ES256'));
  assert.equal(await new StaticJwks({ keys: [...a.jwks.keys, ...b.jwks.keys] }).getKey(undefined, 'ES256'), undefined);
  assert.equal(await new StaticJwks(a.jwks).getKey(a.kid, 'RS256'), undefined, 'a key declared ES256 is not used for RS256');
});
