import assert from 'node:assert/strict';
import { test } from 'node:test';
import { revocationFromSetClaims, revocationSetClaims } from '../../src/events/security-event.js';
import { RevocationList } from '../../src/guard/revocation-list.js';

const NOW = 1_800_000_000;
const workloadToken = (id: string, owner: string, iat = NOW - 10, iatMs?: number) => ({
  grantId: `workload:${id}`,
  sub: `workload:${id}`,
  jkt: 'jkt-runner',
  clientId: `workload:${id}`,
  iat,
  claims: { sub: `workload:${id}`, owner, ...(iatMs !== undefined ? { iat_ms: iatMs } : {}) },
});
/** A cut at the end of second NOW, as a statement in seconds meant. */
const END_OF_NOW = NOW * 1000 + 999;

test('a workload statement ends that workload\'s tokens issued before it, and no other', () => {
  const list = new RevocationList();
  list.apply({ seq: 1, kind: 'workload', value: 'w1', issuedBefore: NOW, issuedBeforeMs: END_OF_NOW, relevantUntil: NOW + 600 });
  assert.equal(list.covers(workloadToken('w1', 'alice'), NOW + 1), true);
  assert.equal(list.covers(workloadToken('w1', 'alice', NOW + 1), NOW + 1), false, 'issued after: a resumed workload');
  assert.equal(list.covers(workloadToken('w2', 'alice'), NOW + 1), false);
  // A person whose user id happens to equal a workload id is not a workload.
  assert.equal(list.covers({ grantId: 'g', sub: 'w1', jkt: null, clientId: 'tether-cli', iat: NOW - 10 }, NOW + 1), false);
});

test('an owner statement ends every workload token of that owner, not the owner\'s own login, not other owners', () => {
  const list = new RevocationList();
  list.apply({ seq: 2, kind: 'owner', value: 'alice', issuedBefore: NOW, issuedBeforeMs: END_OF_NOW, relevantUntil: NOW + 600 });
  assert.equal(list.covers(workloadToken('w1', 'alice'), NOW + 1), true);
  assert.equal(list.covers(workloadToken('w3', 'alice'), NOW + 1), true);
  assert.equal(list.covers(workloadToken('w2', 'bob'), NOW + 1), false);
  // A person's token with an `owner` claim (not a workload) is not covered: only workload tokens have owners.
  assert.equal(list.covers({ grantId: 'g', sub: 'alice', jkt: null, clientId: 'tether-cli', iat: NOW - 10, claims: { owner: 'alice' } }, NOW + 1), false);
  assert.equal(list.size, 1);
  list.sweep(NOW + 10_000);
  assert.equal(list.size, 0, 'forgotten once every token it covers has expired');
});

test('workload and owner cuts are to the millisecond: a token stamped after the cut in the same second lives', () => {
  const list = new RevocationList();
  const cut = NOW * 1000 + 500;
  list.apply({ seq: 3, kind: 'workload', value: 'w1', issuedBefore: NOW, issuedBeforeMs: cut, relevantUntil: NOW + 600 });
  list.apply({ seq: 4, kind: 'owner', value: 'bob', issuedBefore: NOW, issuedBeforeMs: cut, relevantUntil: NOW + 600 });
  assert.equal(list.covers(workloadToken('w1', 'alice', NOW, cut - 100), NOW + 1), true, 'stamped before the cut');
  assert.equal(list.covers(workloadToken('w1', 'alice', NOW, cut + 100), NOW + 1), false, 'stamped after the cut');
  assert.equal(list.covers(workloadToken('w1', 'alice', NOW), NOW + 1), true, 'no stamp: the start of its second, before the cut');
  assert.equal(list.covers(workloadToken('w2', 'bob', NOW, cut), NOW + 1), true, 'at the cut is dead');
  assert.equal(list.covers(workloadToken('w2', 'bob', NOW, cut + 1), NOW + 1), false);
});

test('the pushed SET carries the new kinds and a guard reads them back', () => {
  for (const kind of ['workload', 'owner'] as const) {
    const statement = { seq: 7, kind, value: 'x', issuedBefore: NOW, issuedBeforeMs: NOW * 1000 + 250, relevantUntil: NOW + 600 };
    const claims = revocationSetClaims({ ...statement, id: 'r1', reason: 'offboarded', actor: 'admin:ops' }, 'https://tether.example', NOW);
    assert.deepEqual(revocationFromSetClaims(claims), statement);
  }
});
