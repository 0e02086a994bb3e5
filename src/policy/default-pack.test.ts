import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readContextFile, testContext, DEFAULT_SOURCES } from './authoring.js';
import { describeDevice } from './device-trust.js';
import { PolicyEngine } from './engine.js';
import type { ApiRequestInput, ApprovalInput, DeviceFacts, DeviceRequestInput, IssueInput, PolicyDecision, RefreshInput, ResourceFacts } from './types.js';

const NOW = 1_800_000_000;
const engine = PolicyEngine.withDefaultPack();

const low: ResourceFacts = { uri: 'https://wiki.example.com', tier: 'low' };
const high: ResourceFacts = { uri: 'https://prod.example.com', tier: 'high' };
const managed: DeviceFacts = describeDevice('jkt-managed', { class: 'managed', trust: 'admin' });
const unmanaged: DeviceFacts = describeDevice('jkt-laptop', undefined);
const common = { now: NOW, client: { id: 'tether-cli' }, scopes: ['read'] };
const passkey = { method: 'passkey', mfa: true, phishingResistant: true, amr: ['hwk', 'user', 'mfa'] };
const alice = { user: { id: 'alice', groups: ['sre'] }, signIn: { ...passkey, at: NOW - 120 } };

const deviceRequest = (over: Partial<DeviceRequestInput> = {}): DeviceRequestInput => ({
  step: 'device_authorization',
  ...common,
  resource: low,
  device: unmanaged,
  requester: { ip: '203.0.113.20', userAgent: 'tether-cli/0.1' },
  ...over,
});
const approval = (over: Partial<ApprovalInput> = {}): ApprovalInput => ({
  step: 'approval',
  ...common,
  ...alice,
  resource: high,
  device: managed,
  approver: { ip: '203.0.113.44' },
  requester: { ip: '203.0.113.20' },
  requestedAt: NOW - 30,
  ...over,
});
const issuance = (over: Partial<IssueInput> = {}): IssueInput => ({
  step: 'issuance',
  ...common,
  ...alice,
  resource: high,
  device: managed,
  requester: { ip: '203.0.113.20' },
  grantCreatedAt: NOW - 5,
  ...over,
});
const refresh = (over: Partial<RefreshInput> = {}): RefreshInput => ({ ...issuance(), step: 'refresh', grantCreatedAt: NOW - 1800, ...over });
const apiCall = (over: Partial<ApiRequestInput> = {}): ApiRequestInput => ({
  step: 'api',
  ...common,
  resource: high,
  device: managed,
  subject: { kind: 'user', id: 'alice', groups: [] },
  method: 'GET',
  path: '/v1/deployments',
  origin: { ip: '203.0.113.20' },
  tokenIssuedAt: NOW - 60,
  ...over,
});

function assertAllowed(d: PolicyDecision): Extract<PolicyDecision, { decision: 'allow' }> {
  assert.equal(d.decision, 'allow', d.decision === 'deny' ? d.message : '');
  return d as Extract<PolicyDecision, { decision: 'allow' }>;
}

function assertRefusedBy(d: PolicyDecision, id: string): void {
  assert.equal(d.decision, 'deny');
  assert.ok(d.reasons.includes(id), `expected ${id} among [${d.reasons.join(', ')}]`);
  assert.ok(d.decision === 'deny' && d.message.length > 20 && !d.message.includes('Refused by policy'), 'a readable @reason');
}

test('baseline: an ordinary request is allowed at every step, with the configured lifetimes', () => {
  const d = assertAllowed(engine.decide(deviceRequest()));
  assert.deepEqual(d.reasons, ['baseline']);
  assertAllowed(engine.decide(approval({ resource: low, device: unmanaged, approver: { ip: '198.51.100.1' }, signIn: { method: 'pwd', at: NOW - 86400 } })));
  const token = assertAllowed(engine.decide(issuance({ resource: low, device: unmanaged })));
  assert.equal(token.ttl, undefined);
  assert.equal(token.refreshTtl, undefined);
  assertAllowed(engine.decide(apiCall({ resource: low, device: unmanaged })));
});

test('no-device-flow-for-automation: an interactive device is allowed; automation is refused at each device-flow step', () => {
  assertAllowed(engine.decide(deviceRequest({ environment: 'interactive' })));
  // Declared by the device...
  const declared = describeDevice('jkt-ci', undefined, 'automation');
  assert.equal(declared.class, 'automation');
  assertRefusedBy(engine.decide(deviceRequest({ device: declared, environment: 'automation' })), 'no-device-flow-for-automation');
  // ...or registered as such by an administrator, whatever the device says.
  const registered = describeDevice('jkt-runner', { class: 'automation', trust: 'admin' }, 'interactive');
  assertRefusedBy(engine.decide(deviceRequest({ device: registered })), 'no-device-flow-for-automation');
  assertRefusedBy(engine.decide(approval({ resource: low, device: registered })), 'no-device-flow-for-automation');
  assertRefusedBy(engine.decide(issuance({ resource: low, device: registered })), 'no-device-flow-for-automation');
  assertRefusedBy(engine.decide(refresh({ resource: low, device: registered })), 'no-device-flow-for-automation');
});

test('sensitive-apis-need-bound-request: an unbound request for a medium- or high-tier API is refused when asked and approved', () => {
  const medium: ResourceFacts = { uri: 'https://staging.example.com', tier: 'medium' };
  const unbound = describeDevice(null, undefined);
  assertAllowed(engine.decide(deviceRequest({ resource: low, device: unbound })));
  assertAllowed(engine.decide(deviceRequest({ resource: medium, device: unmanaged })));
  assertAllowed(engine.decide(approval({ resource: medium, device: unmanaged })));
  assertRefusedBy(engine.decide(deviceRequest({ resource: medium, device: unbound })), 'sensitive-apis-need-bound-request');
  assertRefusedBy(engine.decide(approval({ resource: medium, device: unbound })), 'sensitive-apis-need-bound-request');
  assertRefusedBy(engine.decide(deviceRequest({ resource: high, device: unbound })), 'sensitive-apis-need-bound-request');
  assertRefusedBy(engine.decide(approval({ resource: high, device: unbound })), 'sensitive-apis-need-bound-request');
  // Issuance and refresh carry the redeeming proof's key: the binding that mattered was at the request.
  assertAllowed(engine.decide(issuance({ resource: medium, device: unmanaged })));
});

test('high-tier-needs-managed-device: a managed device is allowed; an unmanaged or unbound one is refused at every step', () => {
  assertAllowed(engine.decide(deviceRequest({ resource: high, device: managed })));
  assertAllowed(engine.decide(approval()));
  assertAllowed(engine.decide(issuance()));
  assertAllowed(engine.decide(apiCall()));
  const unbound = describeDevice(null, undefined);
  const pending = describeDevice('jkt-pending', undefined);
  assertRefusedBy(engine.decide(deviceRequest({ resource: high, device: unbound })), 'high-tier-needs-managed-device');
  assertRefusedBy(engine.decide(approval({ device: pending })), 'high-tier-needs-managed-device');
  assertRefusedBy(engine.decide(issuance({ device: unmanaged })), 'high-tier-needs-managed-device');
  assertRefusedBy(engine.decide(refresh({ device: unmanaged })), 'high-tier-needs-managed-device');
  assertRefusedBy(engine.decide(apiCall({ device: unmanaged })), 'high-tier-needs-managed-device');
  // A jump host, even an approved one, is not a managed workstation.
  const jump = describeDevice('jkt-bastion', { class: 'jump_host', trust: 'admin' });
  assertRefusedBy(engine.decide(issuance({ device: jump })), 'high-tier-needs-managed-device');
});

test('high-tier-needs-recent-sign-in: approval within 15 minutes of sign-in is allowed; later is refused', () => {
  assertAllowed(engine.decide(approval({ signIn: { ...passkey, at: NOW - 900 } })));
  assertRefusedBy(engine.decide(approval({ signIn: { ...passkey, at: NOW - 901 } })), 'high-tier-needs-recent-sign-in');
  // Low tier does not care how old the sign-in is.
  assertAllowed(engine.decide(approval({ resource: low, signIn: { method: 'pwd', at: NOW - 86400 } })));
});

test('high-tier-needs-phishing-resistant-sign-in: a passkey or a provider\'s phishing-resistant sign-in may approve; a password may not', () => {
  assertAllowed(engine.decide(approval()));
  const upstream = { method: 'upstream:corp', at: NOW - 60, mfa: true, phishingResistant: true, acr: 'phr', amr: ['hwk'] };
  assertAllowed(engine.decide(approval({ signIn: upstream })));
  assertRefusedBy(engine.decide(approval({ signIn: { method: 'pwd', at: NOW - 60 } })), 'high-tier-needs-phishing-resistant-sign-in');
  // A one-time code is multi-factor, and still relayable.
  const otp = { method: 'upstream:corp', at: NOW - 60, mfa: true, phishingResistant: false, amr: ['pwd', 'otp'] };
  assertRefusedBy(engine.decide(approval({ signIn: otp })), 'high-tier-needs-phishing-resistant-sign-in');
  // Lower tiers take a password.
  assertAllowed(engine.decide(approval({ resource: low, signIn: { method: 'pwd', at: NOW - 60 } })));
  assertAllowed(engine.decide(approval({ resource: { uri: 'https://api.example.com', tier: 'medium' }, signIn: { method: 'pwd', at: NOW - 60 } })));
});

test('high-tier-same-network-approval: approval from the device\'s network is allowed; from another is refused', () => {
  assertAllowed(engine.decide(approval({ approver: { ip: '203.0.113.200' }, requester: { ip: '::ffff:203.0.113.7' } })));
  assertRefusedBy(engine.decide(approval({ approver: { ip: '198.51.100.9' } })), 'high-tier-same-network-approval');
  assertAllowed(engine.decide(approval({ resource: low, approver: { ip: '198.51.100.9' } })));
});

test('high-tier-short-tokens: high-tier tokens live 5 minutes and their grant an hour; low-tier ones are not shortened', () => {
  const d = assertAllowed(engine.decide(issuance()));
  assert.deepEqual(d.reasons, ['baseline', 'high-tier-short-tokens']);
  assert.equal(d.ttl, 300);
  assert.equal(d.refreshTtl, 3600);
  assert.equal(assertAllowed(engine.decide(refresh({ grantCreatedAt: NOW - 3500 }))).ttl, 100, 'no token outlives the grant');
  const over = engine.decide(refresh({ grantCreatedAt: NOW - 3600 }));
  assert.ok(over.decision === 'deny' && over.cause === 'lifetime' && over.reasons.includes('high-tier-short-tokens'));
  assert.equal(assertAllowed(engine.decide(issuance({ resource: low }))).ttl, undefined);
});

test('every step\'s request conforms to the schema (Cedar checks it), with the same decisions', () => {
  const checked = PolicyEngine.withDefaultPack({ checkRequests: true });
  const inputs = [deviceRequest(), approval(), issuance(), refresh(), apiCall(), apiCall({ subject: { kind: 'workload', id: 'batch', owner: 'alice' } })];
  for (const input of inputs) {
    const d = checked.decide(input);
    assert.ok(d.decision === 'allow' || d.cause !== 'error', `${input.step}: ${d.decision === 'deny' ? d.errors?.join('; ') : ''}`);
    assert.deepEqual(d, engine.decide(input));
  }
});

test('every example context in docs/policy-examples meets its expectation against the default pack', async () => {
  const dir = join(import.meta.dirname, '../../docs/policy-examples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 10);
  for (const name of files) {
    const file = await readContextFile(join(dir, name), NOW);
    assert.ok(file.expect, `${name} states what it expects`);
    const result = testContext(DEFAULT_SOURCES, file);
    assert.ok(result.ok, `${name}:\n${result.lines.join('\n')}`);
  }
});

test('every Cedar example in docs/policy.md validates, alone and added to the default pack', () => {
  const doc = readFileSync(join(import.meta.dirname, '../../docs/policy.md'), 'utf8');
  const blocks = [...doc.matchAll(/```cedar\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  assert.ok(blocks.length >= 13);
  for (const [i, text] of blocks.entries()) new PolicyEngine().load(text, `docs/policy.md block ${i + 1}`);
  const examples = blocks.slice(9).map((text, i) => ({ name: `example-${i + 1}.cedar`, text }));
  assert.ok(new PolicyEngine().load([...DEFAULT_SOURCES, ...examples]).policies.length >= 14);
  // The pack as documented is the pack as shipped.
  assert.equal(blocks.slice(0, 9).join('\n'), DEFAULT_SOURCES[0]?.text);
});
