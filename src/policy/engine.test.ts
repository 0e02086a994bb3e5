import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CedarRequest } from './cedar.js';
import { PolicyEngine, requestKey } from './engine.js';
import { PolicyInputError, PolicyLoadError } from './errors.js';
import type { ApiRequestInput, IssueInput, PolicyDecision, RefreshInput } from './types.js';

const NOW = 1_800_000_000; // a Friday, 08:00 UTC

function issue(over: Partial<IssueInput> = {}): IssueInput {
  return {
    step: 'issuance',
    now: NOW,
    client: { id: 'tether-cli' },
    resource: { uri: 'https://api.example.com', tier: 'low' },
    device: { jkt: 'jkt-1', class: 'managed', enrolled: true },
    scopes: ['read', 'write'],
    user: { id: 'alice', groups: ['sre'] },
    signIn: { method: 'pwd', at: NOW - 60 },
    requester: { ip: '203.0.113.5', userAgent: 'tether-cli/0.1' },
    grantCreatedAt: NOW - 10,
    ...over,
  };
}

function refresh(over: Partial<RefreshInput> = {}): RefreshInput {
  return { ...issue(), step: 'refresh', ...over };
}

function api(over: Partial<ApiRequestInput> = {}): ApiRequestInput {
  return {
    step: 'api',
    now: NOW,
    client: { id: 'tether-cli' },
    resource: { uri: 'https://api.example.com', tier: 'low' },
    device: { jkt: 'jkt-1', class: 'managed', enrolled: true },
    scopes: ['read'],
    subject: { kind: 'user', id: 'alice', groups: [] },
    method: 'get',
    path: '/v1/things',
    origin: { ip: '203.0.113.5' },
    tokenIssuedAt: NOW - 30,
    ...over,
  };
}

function engineWith(text: string, options = {}): PolicyEngine {
  const engine = new PolicyEngine(options);
  engine.load(text, 'test.cedar');
  return engine;
}

function allowed(d: PolicyDecision) {
  assert.equal(d.decision, 'allow', d.decision === 'deny' ? `${d.cause}: ${d.message}` : '');
  return d as Extract<PolicyDecision, { decision: 'allow' }>;
}

function denied(d: PolicyDecision) {
  assert.equal(d.decision, 'deny');
  return d as Extract<PolicyDecision, { decision: 'deny' }>;
}

const loadError = (fn: () => unknown): PolicyLoadError => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof PolicyLoadError, String(error));
    return error;
  }
  assert.fail('expected the set to be refused');
};

test('policy ids come from @id, else from file and line', () => {
  const engine = engineWith('@id("named")\npermit (principal, action, resource);\n\nforbid (principal, action, resource) when { context.hour == 99 };');
  assert.deepEqual(
    engine.loaded?.policies.map((p) => [p.id, p.effect, p.line]),
    [
      ['named', 'permit', 1],
      ['test.cedar:4', 'forbid', 4],
    ],
  );
});

test('the lifetime is the shortest @ttl among the determining permits; permits that did not match do not count', () => {
  const engine = engineWith(`
    @id("base") permit (principal, action, resource);
    @id("ten") @ttl("10m") permit (principal, action == Tether::Action::"Issue", resource);
    @id("five") @ttl("5m") @refresh_ttl("2h") permit (principal in Tether::Group::"sre", action, resource);
    @id("one") @ttl("1m") permit (principal, action, resource) when { resource.tier == "high" };
    @id("half") @refresh_ttl("30m") permit (principal, action in [Tether::Action::"Issue", Tether::Action::"Refresh"], resource)
      when { context.authMethod == "otp" };
  `);
  const d = allowed(engine.decide(issue()));
  assert.deepEqual(d.reasons, ['base', 'ten', 'five']);
  assert.equal(d.ttl, 300);
  assert.equal(d.refreshTtl, 7200);

  const outsider = allowed(engine.decide(issue({ user: { id: 'bob', groups: [] } })));
  assert.equal(outsider.ttl, 600);
  assert.equal(outsider.refreshTtl, undefined);

  const plain = allowed(engineWith('permit (principal, action, resource);').decide(issue()));
  assert.equal(plain.ttl, undefined, 'no @ttl: the configured limits apply');
});

test('past its @refresh_ttl a grant cannot be refreshed, and no token outlives it', () => {
  const engine = engineWith('@ttl("15m") @refresh_ttl("1h") permit (principal, action, resource);');
  const early = allowed(engine.decide(refresh({ grantCreatedAt: NOW - 600 })));
  assert.equal(early.ttl, 900);
  const late = allowed(engine.decide(refresh({ grantCreatedAt: NOW - 3300 })));
  assert.equal(late.ttl, 300, 'capped by the 5 minutes the grant has left');
  const over = denied(engine.decide(refresh({ grantCreatedAt: NOW - 3600 })));
  assert.equal(over.cause, 'lifetime');
});

test('@scopes only narrows: scopes never asked for are never added, and several @scopes intersect', () => {
  const engine = engineWith(`
    @id("base") permit (principal, action, resource);
    @id("read-admin") @scopes("read admin") permit (principal, action, resource) when { resource.tier == "medium" };
    @id("read-list") @scopes("list read") permit (principal in Tether::Group::"sre", action, resource) when { resource.tier == "medium" };
  `);
  const medium = { uri: 'https://api.example.com', tier: 'medium' as const };
  const d = allowed(engine.decide(issue({ resource: medium, scopes: ['read', 'write'] })));
  assert.deepEqual(d.scopes, ['read']);
  assert.ok(!d.scopes.includes('admin'));

  const low = allowed(engine.decide(issue({ scopes: ['read', 'write'] })));
  assert.deepEqual(low.scopes, ['read', 'write'], 'no @scopes: what was asked');

  const none = denied(engine.decide(issue({ resource: medium, scopes: ['write'] })));
  assert.equal(none.cause, 'no_scope');
  assert.deepEqual(none.reasons, ['read-admin', 'read-list']);
});

test('a refusal carries the first matching forbid\'s @reason; without one, a generic sentence', () => {
  const engine = engineWith(`
    permit (principal, action, resource);
    @id("night") @reason("Not at night.") forbid (principal, action, resource) when { context.hour < 6 };
    @id("bob") forbid (principal == Tether::User::"bob", action, resource);
  `);
  const night = denied(engine.decide(issue({ now: NOW - 4 * 3600, user: { id: 'bob', groups: [] } })));
  assert.deepEqual(night.reasons, ['night', 'bob']);
  assert.equal(night.cause, 'forbidden');
  assert.equal(night.message, 'Not at night.');
  const bob = denied(engine.decide(issue({ user: { id: 'bob', groups: [] } })));
  assert.equal(bob.message, 'Refused by policy "bob".');
  const nothing = denied(engineWith('permit (principal, action == Tether::Action::"Approve", resource);').decide(issue()));
  assert.equal(nothing.cause, 'not_permitted');
  assert.deepEqual(nothing.reasons, []);
});

test('a forbid that cannot be evaluated refuses (fails closed); so does a permit carrying a restriction', () => {
  // Long overflow is a runtime error that strict validation cannot rule out.
  const overflow = 'context.hour + 9223372036854775807 > 0';
  const forbid = engineWith(`permit (principal, action, resource);\n@id("boom") forbid (principal, action, resource) when { ${overflow} };`);
  const d = denied(forbid.decide(issue()));
  assert.equal(d.cause, 'error');
  assert.deepEqual(d.reasons, ['boom']);
  assert.ok(d.errors?.some((e) => e.startsWith('boom:')));

  const restricting = engineWith(`permit (principal, action, resource);\n@id("short") @ttl("1m") permit (principal, action, resource) when { ${overflow} };`);
  assert.equal(denied(restricting.decide(issue())).cause, 'error');

  const plain = engineWith(`@id("base") permit (principal, action, resource);\npermit (principal, action, resource) when { ${overflow} };`);
  assert.deepEqual(allowed(plain.decide(issue())).reasons, ['base']);
});

test('an invalid set is refused with its location, and the previous set stays in force', () => {
  const engine = engineWith('@id("base") @ttl("5m") permit (principal, action, resource);');
  const before = engine.loaded;

  const syntax = loadError(() => engine.load('permit (principal, action, resource);\nforbid (principal, action, resource) when {', 'bad.cedar'));
  assert.equal(syntax.code, 'policy_syntax');
  assert.equal(syntax.problems[0]?.location?.source, 'bad.cedar');
  assert.equal(syntax.problems[0]?.location?.line, 2);

  const schema = loadError(() => engine.load('permit (principal, action, resource);\n\n  forbid (principal, action, resource) when { resource.tierr == "x" };', 'bad.cedar'));
  assert.equal(schema.code, 'policy_invalid');
  assert.deepEqual(schema.problems[0]?.location, { source: 'bad.cedar', line: 3, column: 47, policyId: 'bad.cedar:3' });
  assert.match(schema.message, /tierr/);

  assert.equal(loadError(() => engine.load('@ttl("soon") permit (principal, action, resource);')).code, 'policy_annotation');
  assert.equal(loadError(() => engine.load('@ttl("5m") forbid (principal, action, resource);')).code, 'policy_annotation');
  assert.equal(loadError(() => engine.load('@reason("x") permit (principal, action, resource);')).code, 'policy_annotation');
  assert.equal(loadError(() => engine.load('@id("a") permit (principal, action, resource);\n@id("a") forbid (principal, action, resource);')).code, 'policy_duplicate_id');
  assert.equal(loadError(() => engine.load('// nothing but a comment\n')).code, 'policy_empty');
  assert.equal(loadError(() => engine.load('permit (principal == ?principal, action, resource);')).code, 'policy_template');

  assert.equal(engine.loaded, before, 'still the first set');
  const d = allowed(engine.decide(issue()));
  assert.deepEqual(d.reasons, ['base']);
  assert.equal(d.ttl, 300);
});

test('a successful load replaces the set at once', () => {
  const engine = engineWith('permit (principal, action, resource);');
  assert.equal(engine.decide(issue()).decision, 'allow');
  engine.load('@id("no") forbid (principal, action, resource);\npermit (principal, action, resource);');
  assert.deepEqual(denied(engine.decide(issue())).reasons, ['no']);
  assert.equal(engine.loaded?.generation, 2);
});

test('remembered answers never outlive their request: a small cache still decides each request on its own facts', () => {
  const engine = new PolicyEngine({ cacheSize: 2 });
  engine.load('permit (principal, action, resource);\n@id("bob") forbid (principal == Tether::User::"bob", action, resource);');
  for (let round = 0; round < 3; round++) {
    for (const id of ['alice', 'bob', 'carol', 'bob', 'dave']) {
      assert.equal(engine.decide(issue({ user: { id, groups: [] } })).decision, id === 'bob' ? 'deny' : 'allow');
    }
  }
  // Scopes are narrowed per input even when Cedar's answer is remembered.
  const narrowing = new PolicyEngine();
  narrowing.load('@scopes("read") permit (principal, action, resource);');
  assert.deepEqual(allowed(narrowing.decide(issue({ scopes: ['read', 'write'] }))).scopes, ['read']);
  assert.equal(denied(narrowing.decide(issue({ scopes: ['write'] }))).cause, 'no_scope');
});

test('engines are independent', () => {
  const a = engineWith('permit (principal, action, resource);');
  const b = engineWith('forbid (principal, action, resource);');
  assert.equal(a.decide(issue()).decision, 'allow');
  assert.equal(b.decide(issue()).decision, 'deny');
});

test('unknown annotations are kept as warnings, not errors', () => {
  const engine = engineWith('@owner("team-a") @description("ok") permit (principal, action, resource);');
  assert.equal(engine.loaded?.warnings.length, 1);
  assert.match(engine.loaded?.warnings[0]?.message ?? '', /@owner/);
});

test('context: groups, networks, IPv4-mapped addresses, hour in the configured zone, method and path', () => {
  const engine = engineWith(
    `
    @id("office-only") forbid (principal, action == Tether::Action::"CallResource", resource) unless { context.network == "office" };
    @id("business-hours") forbid (principal, action, resource) unless { context.hour >= 8 && context.hour < 19 && context.weekday <= 5 };
    @id("reads") permit (principal, action == Tether::Action::"CallResource", resource) when { context.method == "GET" && context.path like "/v1/*" };
    @id("sre-writes") permit (principal in Tether::Group::"sre", action, resource);
    `,
    { networks: { office: ['203.0.113.0/24'] }, timeZone: 'Europe/Berlin' },
  );
  // 08:00 UTC on a Friday in January is 09:00 in Berlin; twelve hours later it is 21:00.
  assert.deepEqual(allowed(engine.decide(api({ origin: { ip: '::ffff:203.0.113.9' } }))).reasons, ['reads']);
  assert.deepEqual(denied(engine.decide(api({ origin: { ip: '198.51.100.1' } }))).reasons, ['office-only']);
  assert.deepEqual(denied(engine.decide(api({ now: NOW + 12 * 3600 }))).reasons, ['business-hours']);
  assert.equal(denied(engine.decide(api({ method: 'DELETE' }))).cause, 'not_permitted');
  assert.deepEqual(allowed(engine.decide(api({ method: 'DELETE', subject: { kind: 'user', id: 'alice', groups: ['sre'] } }))).reasons, ['sre-writes']);
});

test('a workload can be the principal of an API request', () => {
  const engine = engineWith('permit (principal is Tether::Workload, action == Tether::Action::"CallResource", resource);');
  assert.equal(engine.decide(api({ subject: { kind: 'workload', id: 'billing-batch', owner: 'alice' } })).decision, 'allow');
  assert.equal(engine.decide(api()).decision, 'deny');
});

test('inputs that cannot be a request are refused with the field named; a decision before any load is a defect', () => {
  const engine = engineWith('permit (principal, action, resource);');
  assert.throws(() => engine.decide(issue({ requester: { ip: 'not-an-ip' } })), (e: unknown) => e instanceof PolicyInputError && e.field === 'requester.ip' && e.code === 'policy_input');
  assert.throws(
    () => engine.decide(issue({ resource: { uri: 'https://x', tier: 'extreme' as never } })),
    (e: unknown) => e instanceof PolicyInputError && e.field === 'resource.tier',
  );
  assert.throws(() => new PolicyEngine().decide(issue()), /no policy set is loaded/);
  assert.throws(() => new PolicyEngine({ timeZone: 'Mars/Olympus' }), (e: unknown) => e instanceof PolicyInputError && e.field === 'timeZone');
});

test('a request carries only the context the policies read, and the decisions are the same', () => {
  const text = `
    @id("office") forbid (principal, action == Tether::Action::"CallResource", resource) unless { context.network == "office" };
    @id("managed") permit (principal, action, resource) when { context.device.class == "managed" };
  `;
  const lean = new PolicyEngine({ networks: { office: ['203.0.113.0/24'] } });
  const full = new PolicyEngine({ networks: { office: ['203.0.113.0/24'] }, checkRequests: true });
  lean.load(text);
  full.load(text);
  const cases = [api(), api({ origin: { ip: '198.51.100.1' } }), api({ device: { jkt: null, class: 'unmanaged', enrolled: false } }), issue()];
  for (const input of cases) assert.deepEqual(lean.decide(input), full.decide(input));
  assert.equal(lean.decide(api()).decision, 'allow');

  // A device named by literal still reaches its entity.
  const literal = new PolicyEngine();
  literal.load('permit (principal, action, resource) when { Tether::Device::"jkt-1".class == "managed" };');
  assert.equal(literal.decide(api()).decision, 'allow');
});

test('two policies on one line without @id get distinct ids', () => {
  const engine = engineWith('permit (principal, action, resource); forbid (principal, action, resource) when { context.hour == 99 };');
  assert.deepEqual(engine.loaded?.policies.map((p) => p.id), ['test.cedar:1', 'test.cedar:1:39']);
});

test('a cached answer is keyed by the whole request: two requests share a key only when their JSON is equal', () => {
  const base = (): CedarRequest => ({
    principal: { type: 'Tether::User', id: 'alice' },
    action: { type: 'Tether::Action', id: 'Issue' },
    resource: { type: 'Tether::Resource', id: 'https://api.example' },
    context: { environment: '' },
    entities: [
      { uid: { type: 'Tether::User', id: 'alice' }, attrs: {}, parents: [{ type: 'Tether::Group', id: 'eng' }] },
      { uid: { type: 'Tether::Client', id: 'cli' }, attrs: {}, parents: [] },
    ],
  });
  // Each variant moves text from one field to its neighbour, or changes one value, in ways a naive join would merge.
  const variants: ((r: CedarRequest) => void)[] = [
    () => undefined,
    (r) => (r.principal = { type: 'Tether::User', id: 'alice"' }),
    (r) => (r.principal = { type: 'Tether::Use', id: 'ralice' }),
    (r) => (r.principal = { type: 'Tether::User', id: 'alice\u0000' }),
    (r) => (r.context = { environment: ';' }),
    (r) => (r.context = { environment: '', x: 1 }),
    (r) => (r.entities[0]!.parents = []),
    (r) => (r.entities[0]!.parents = [{ type: 'Tether::Group', id: 'eng' }, { type: 'Tether::Group', id: 'ops' }]),
    (r) => (r.entities[0]!.parents = [{ type: 'Tether::Group', id: 'eng"}{"type":"Tether::Group","id":"ops' }]),
    (r) => r.entities[1]!.parents.push({ type: 'Tether::Group', id: 'eng' }),
    (r) => (r.entities[0]!.parents = [{ __entity: { type: 'Tether::Group', id: 'eng' } }]),
    (r) => (r.entities[1]!.attrs = { tier: 'low' }),
    (r) => (r.entities[1]!.tags = {}),
    (r) => r.entities.pop(),
    (r) => r.entities.reverse(),
  ];
  const requests = variants.map((change) => {
    const r = base();
    change(r);
    return r;
  });
  for (const a of requests) {
    for (const b of requests) {
      assert.equal(requestKey(a) === requestKey(b), JSON.stringify(a) === JSON.stringify(b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  }
});
