import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseContextFile, unmetExpectations } from './context-file.js';
import { PolicyInputError } from './errors.js';

const NOW = 1_800_000_000;
const approval = {
  step: 'approval',
  now: NOW,
  client: { id: 'tether-cli' },
  resource: { uri: 'https://prod.example.com', tier: 'high' },
  user: { id: 'alice' },
  signIn: { at: '-20m' },
  approver: { ip: '203.0.113.4' },
  requester: { ip: '203.0.113.5' },
};

test('times may be relative to now, ISO dates or epoch seconds; defaults fill the rest', () => {
  const file = parseContextFile({ ...approval, requestedAt: '2027-01-15T07:59:00Z', expect: { ttl: '5m' } }, 0);
  assert.equal(file.input.step, 'approval');
  if (file.input.step !== 'approval') return;
  assert.equal(file.input.signIn.at, NOW - 1200);
  assert.equal(file.input.signIn.method, 'pwd');
  assert.equal(file.input.requestedAt, NOW - 60);
  assert.deepEqual(file.input.device, { jkt: null, class: 'unmanaged', enrolled: false });
  assert.deepEqual(file.input.user.groups, []);
  assert.equal(file.expect?.ttl, 300);
  const { now: _now, ...withoutNow } = approval;
  assert.equal(parseContextFile(withoutNow, 42).input.now, 42, 'now defaults to the current time');
});

test('a bad field is named', () => {
  const field = (raw: unknown) => {
    try {
      parseContextFile(raw, NOW);
    } catch (error) {
      assert.ok(error instanceof PolicyInputError);
      return error.field;
    }
    return undefined;
  };
  assert.equal(field({ ...approval, resource: { uri: 'x', tier: 'secret' } }), 'resource.tier');
  assert.equal(field({ ...approval, signIn: { at: 'yesterday' } }), 'signIn.at');
  assert.equal(field({ ...approval, step: 'login' }), 'step');
  assert.equal(field({ ...approval, extra: true }), '(top level)');
});

test('expectations report each difference', () => {
  const allow = { decision: 'allow' as const, reasons: ['baseline'], scopes: ['read'], ttl: 300 };
  assert.deepEqual(unmetExpectations({ decision: 'allow', reasons: ['baseline'], ttl: 300, scopes: ['read'] }, allow), []);
  const unmet = unmetExpectations({ decision: 'deny', ttl: 60, cause: 'forbidden' }, allow);
  assert.equal(unmet.length, 3);
});
