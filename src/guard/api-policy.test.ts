import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { accessToken, AUDIENCE, dpopKey, dpopRequest, fakeClock, issuerKey, testGuard, type DpopKey, type IssuerKey } from '../../test/guard/fixtures.js';
import { memoryLogger } from '../../test/guard/support.js';
import { ApiPolicy } from './api-policy.js';
import type { GuardRefusal, GuardResult } from './guard.js';

const CONTRACTORS = `@id("baseline")
permit (principal, action, resource);

@id("contractors-read-only")
@reason("Contractors may only read this API.")
forbid (principal in Tether::Group::"contractors", action == Tether::Action::"CallResource", resource)
when { context.method != "GET" };
`;

const OFFICE_HOURS = `@id("baseline")
permit (principal, action, resource);

@id("office-hours")
@reason("Only from 08:00 to 19:00.")
forbid (principal, action == Tether::Action::"CallResource", resource)
unless { context.hour >= 8 && context.hour < 19 };
`;

function refused(result: GuardResult): GuardRefusal {
  assert.equal(result.ok, false, 'expected a refusal');
  return result as GuardRefusal;
}

describe('request-time Cedar policy at the guard', () => {
  let key: IssuerKey;
  let dir: string;
  const clock = fakeClock(Date.UTC(2026, 2, 2, 9, 30) / 1000);
  let holder: DpopKey;

  before(async () => {
    key = await issuerKey();
    holder = await dpopKey('ES256', clock.now);
    dir = mkdtempSync(join(tmpdir(), 'tether-api-policy-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the default pack at a high-tier API: a managed device passes, an unmanaged one is refused with the reason', async () => {
    const policy = await ApiPolicy.load({ audience: AUDIENCE, tier: 'high' });
    const logger = memoryLogger();
    const guard = testGuard(key, clock.now, { policy, logger });
    const managed = await accessToken(key, { now: clock.now(), jkt: holder.jkt, claims: { device_class: 'managed', device_enrolled: true } });
    assert.equal((await guard.check(await dpopRequest(holder, managed, { method: 'POST' }))).ok, true);
    const unmanaged = await accessToken(key, { now: clock.now(), jkt: holder.jkt });
    const r = refused(await guard.check(await dpopRequest(holder, unmanaged, { method: 'POST' })));
    assert.deepEqual([r.status, r.code, r.error], [403, 'policy_denied', 'insufficient_scope']);
    assert.match(r.description, /^This API needs a managed device/);
    assert.match(r.wwwAuthenticate ?? '', /^DPoP error="insufficient_scope", error_description="This API needs a managed device/);
    const line = logger.lines.find((l) => l.includes('guard: refused by policy'));
    assert.ok(line, 'the denial is logged');
    assert.match(line, /"policies":\["high-tier-needs-managed-device"\]/, 'with the policies that determined it');
    assert.ok(!logger.lines.some((l) => l.includes(unmanaged)), 'never the token');
  });

  test('groups from the token: a contractor may read but not write; without the claim, no group', async () => {
    const file = join(dir, 'contractors.cedar');
    writeFileSync(file, CONTRACTORS);
    const policy = await ApiPolicy.load({ audience: AUDIENCE, policies: file });
    const guard = testGuard(key, clock.now, { policy });
    const bob = await accessToken(key, { now: clock.now(), jkt: holder.jkt, claims: { sub: 'bob', groups: ['contractors'] } });
    assert.equal((await guard.check(await dpopRequest(holder, bob))).ok, true, 'GET is allowed');
    const post = refused(await guard.check(await dpopRequest(holder, bob, { method: 'POST' })));
    assert.deepEqual([post.status, post.description], [403, 'Contractors may only read this API.']);
    const alice = await accessToken(key, { now: clock.now(), jkt: holder.jkt, claims: { groups: ['engineering'] } });
    assert.equal((await guard.check(await dpopRequest(holder, alice, { method: 'POST' }))).ok, true);
    policy.close();
  });

  test('a cached decision never outlives its policy generation: a reload takes effect on the next request', async () => {
    const file = join(dir, 'reload.cedar');
    writeFileSync(file, '@id("baseline")\npermit (principal, action, resource);\n');
    const logger = memoryLogger();
    const policy = await ApiPolicy.load({ audience: AUDIENCE, policies: file, logger });
    const guard = testGuard(key, clock.now, { policy });
    const bob = await accessToken(key, { now: clock.now(), jkt: holder.jkt, claims: { sub: 'bob', groups: ['contractors'] } });
    assert.equal((await guard.check(await dpopRequest(holder, bob, { method: 'POST' }))).ok, true);
    assert.equal(guard.stats().decisions, 1, 'the allow is cached');
    writeFileSync(file, CONTRACTORS);
    assert.equal((await policy.reload()).status, 'loaded');
    assert.equal(refused(await guard.check(await dpopRequest(holder, bob, { method: 'POST' }))).code, 'policy_denied');

    // An invalid change is refused; the set in force stays, and so does its decision.
    writeFileSync(file, CONTRACTORS.replace('context.method', 'context.verb'));
    const outcome = await policy.reload();
    assert.equal(outcome.status, 'refused');
    assert.ok(logger.lines.some((l) => l.startsWith('error policy change refused; the previous policies stay in force')), 'and logged');
    assert.equal(policy.loaded.generation, 2);
    assert.equal(refused(await guard.check(await dpopRequest(holder, bob, { method: 'POST' }))).code, 'policy_denied');
    policy.close();
  });

  test('a decision on the hour is not reused past it; the cache key holds the path only when a policy reads it', async () => {
    const file = join(dir, 'hours.cedar');
    writeFileSync(file, OFFICE_HOURS);
    const policy = await ApiPolicy.load({ audience: AUDIENCE, policies: file });
    const local = fakeClock(Date.UTC(2026, 2, 2, 18, 50) / 1000);
    const key2 = await dpopKey('ES256', local.now);
    const guard = testGuard(key, local.now, { policy });
    const token = await accessToken(key, { now: local.now(), jkt: key2.jkt, ttl: 3600 });
    assert.equal((await guard.check(await dpopRequest(key2, token))).ok, true, '18:50 is inside office hours');
    assert.equal((await guard.check(await dpopRequest(key2, token, { url: 'https://api.example/other' }))).ok, true);
    assert.equal(guard.stats().decisions, 1, 'policies read no path, so one decision serves both paths');
    local.advance(11 * 60);
    assert.equal(refused(await guard.check(await dpopRequest(key2, token))).description, 'Only from 08:00 to 19:00.', '19:01 is not');
    policy.close();
  });

  test('a policy that reads the token age is decided per request; a missing caller address refuses', async () => {
    const file = join(dir, 'age.cedar');
    writeFileSync(
      file,
      '@id("baseline")\npermit (principal, action, resource);\n@id("fresh")\n@reason("Token too old.")\nforbid (principal, action == Tether::Action::"CallResource", resource) when { context.tokenAgeSeconds > 60 };\n',
    );
    const policy = await ApiPolicy.load({ audience: AUDIENCE, policies: file });
    const local = fakeClock();
    const key2 = await dpopKey('ES256', local.now);
    const guard = testGuard(key, local.now, { policy });
    const token = await accessToken(key, { now: local.now(), jkt: key2.jkt });
    assert.equal((await guard.check(await dpopRequest(key2, token))).ok, true);
    local.advance(61);
    assert.equal(refused(await guard.check(await dpopRequest(key2, token))).description, 'Token too old.');
    const { ip: _ip, ...noAddress } = await dpopRequest(key2, token);
    assert.equal(refused(await guard.check(noAddress)).code, 'policy_error');
    policy.close();
  });

  test('a set that does not validate against the schema is refused at load', async () => {
    const file = join(dir, 'bad.cedar');
    writeFileSync(file, 'permit (principal, action == Tether::Action::"CallResource", resource) when { context.verb == "GET" };\n');
    await assert.rejects(ApiPolicy.load({ audience: AUDIENCE, policies: file }), (error: unknown) => (error as { code?: string }).code === 'policy_invalid');
  });
});
