import assert from 'node:assert/strict';
import { test } from 'node:test';
import { revocationFromSetClaims, revocationSetClaims } from '../../src/events/security-event.js';
import { RevocationList } from '../../src/guard/revocation-list.js';

const NOW = 1_800_000_000;
const workloadToken = (id: string, owner: string, iat = NOW - 10) => ({
  grantId: `workload:${id}`,
  sub: `workload:${id}`,
  jkt: 'jkt-runner',
  clientId: `workload:${id}`,
  iat,
  claims: { sub: `workload:${id}`, owner },
});

test('a workload statement ends that workload\'s tokens issued before it, and no other', () => {
  const list = new RevocationList();
  list.apply({ seq: 1, kind: 'workload', value: 'w1', issuedBefore: NOW, relevantUntil: NOW + 600 });
  assert.equal(list.covers(workloadToken('w1', 'alice'), NOW + 1), true);
  assert.equal(list.covers(workloadToken('w1', 'alice', NOW + 1), NOW + 1), false, 'issued after: a resumed workload');
  assert.equal(list.covers(workloadToken('w2', 'alice'), NOW + 1), false);
  // A person whose user id happens to equal a workload id is not a workload.
  assert.equal(list.covers({ grantId: 'g', sub: 'w1', jkt: null, clientId: 'tether-cli', iat: NOW - 10 }, NOW + 1), false);
});

test('an owner statement ends every workload token of that owner, not the owner\'s own login, not other owners', () => {
  const list = new RevocationList();
  list.apply({ seq: 2, kind: 'owner', value: 'alice', issuedBefore: NOW, relevantUntil: NOW + 600 });
  assert.equal(list.covers(workloadToken('w1', 'alice'), NOW + 1), true);
  assert.equal(list.covers(workloadToken('w3', 'alice'), NOW + 1), true);
  assert.equal(list.covers(workloadToken('w2', 'bob'), NOW + 1), false);
  // A person's token with an `owner` claim (not a workload) is not covered: only workload tokens have owners.
  assert.equal(list.covers({ grantId: 'g', sub: 'alice', jkt: null, clientId: 'tether-cli', iat: NOW - 10, claims: { owner: 'alice' } }, NOW + 1), false);
  assert.equal(list.size, 1);
  list.sweep(NOW + 10_000);
  assert.equal(list.size, 0, 'forgotten once every token it covers has expired');
});

test('the pushed SET carries the new kinds and a guard reads them back', () => {
  for (const kind of ['workload', 'owner'] as const) {
    const claims = revocationSetClaims({ id: 'r1', seq: 7, kind, value: 'x', issuedBefore: NOW, relevantUntil: NOW + 600, reason: 'offboarded', actor: 'admin:ops' }, 'https://tether.example');
    assert.deepEqual(revocationFromSetClaims(claims), { seq: 7, kind, value: 'x', issuedBefore: NOW, relevantUntil: NOW + 600 });
  }
});
