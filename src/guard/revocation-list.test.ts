import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PushedRevocation } from '../events/security-event.js';
import { RevocationList, type RevocableToken } from './revocation-list.js';

const token = (extra: Partial<RevocableToken> = {}): RevocableToken => ({
  grantId: 'g1',
  sub: 'alice',
  jkt: 'key-1',
  clientId: 'tether-cli',
  iat: 1000,
  ...extra,
});
// Without an explicit millisecond cut, a statement cuts at the end of its second (what an older server meant).
const statement = (extra: Partial<PushedRevocation>): PushedRevocation => ({
  seq: 1,
  kind: 'grant',
  value: 'g1',
  issuedBefore: 1000,
  issuedBeforeMs: (extra.issuedBefore ?? 1000) * 1000 + 999,
  relevantUntil: 1600,
  ...extra,
});

test('each kind covers tokens of its target issued at or before the cutoff, and only those', () => {
  for (const [kind, value, other] of [
    ['grant', 'g1', { grantId: 'g2' }],
    ['user', 'alice', { sub: 'bob' }],
    ['jkt', 'key-1', { jkt: 'key-2' }],
    ['client', 'tether-cli', { clientId: 'ci-bot' }],
  ] as const) {
    const list = new RevocationList(0);
    list.apply(statement({ kind, value }));
    assert.equal(list.covers(token(), 1001), true, kind);
    assert.equal(list.covers(token({ iat: 1001 }), 1001), false, `${kind}: a token issued after the statement lives`);
    assert.equal(list.covers(token(other), 1001), false, `${kind}: another target lives`);
  }
  const all = new RevocationList(0);
  all.apply(statement({ kind: 'all', value: null }));
  assert.equal(all.covers(token({ grantId: null, jkt: null }), 1001), true);
  assert.equal(all.covers(token({ iat: 1001 }), 1001), false);
});

test('statements about one target merge without ever uncovering a token', () => {
  const list = new RevocationList(0);
  list.apply(statement({ issuedBefore: 1200, relevantUntil: 1800 }));
  list.apply(statement({ issuedBefore: 1000, relevantUntil: 1600 }));
  assert.equal(list.covers(token({ iat: 1150 }), 1700), true);
  assert.equal(list.size, 1);
});

test('a statement is forgotten once every token it covers has expired (plus the grace), so memory is bounded', () => {
  const list = new RevocationList(60);
  for (let i = 0; i < 1000; i++) list.apply(statement({ seq: i, value: `g${i}`, issuedBefore: 1000 + i, relevantUntil: 1600 + i }));
  assert.equal(list.size, 1000);
  assert.equal(list.covers(token({ grantId: 'g999', iat: 1999 }), 2000), true);
  list.sweep(1600 + 60 + 500);
  assert.equal(list.size, 499, 'statements 0..500 have ended');
  list.sweep(10_000);
  assert.equal(list.size, 0);
});

test('a millisecond cut splits tokens of the same second: before it dead, after it alive', () => {
  const list = new RevocationList(0);
  list.apply(statement({ kind: 'user', value: 'alice', issuedBefore: 1000, issuedBeforeMs: 1_000_500 }));
  const at = (ms: number) => token({ iat: Math.floor(ms / 1000), claims: { iat_ms: ms } });
  assert.equal(list.covers(at(1_000_499), 1001), true);
  assert.equal(list.covers(at(1_000_500), 1001), true);
  assert.equal(list.covers(at(1_000_501), 1001), false);
  // A token without the claim counts from the start of its second: a cut in that second catches it (fail closed).
  assert.equal(list.covers(token({ iat: 1000 }), 1001), true);
  // A stamp far from iat is not believed: the token counts from the start of its second again.
  assert.equal(list.covers(token({ iat: 1000, claims: { iat_ms: 1_120_000 } }), 1001), true);
});

test('a sweep removes what has ended, and keeps a target a later statement extended', () => {
  const list = new RevocationList(0);
  list.apply(statement({ value: 'g1', relevantUntil: 1600 }));
  list.apply(statement({ value: 'g2', relevantUntil: 1600 }));
  list.apply(statement({ value: 'g1', issuedBefore: 1100, relevantUntil: 1700 }));
  list.apply(statement({ value: 'g2', relevantUntil: 1600 })); // again: changes nothing
  list.apply(statement({ kind: 'all', value: null, issuedBefore: 1100, relevantUntil: 1650 }));
  assert.equal(list.sweep(1600), 1, 'g2 ended; g1 was extended to 1700');
  assert.equal(list.covers(token({ grantId: 'g1', iat: 1050 }), 1601), true);
  assert.equal(list.covers(token({ grantId: 'g2', iat: 1050, sub: 'bob', jkt: null, clientId: 'x' }), 1601), true, 'the cut of all still holds');
  assert.equal(list.sweep(1650), 1, 'the cut of all ended');
  assert.equal(list.covers(token({ grantId: 'g2', iat: 1050, sub: 'bob', jkt: null, clientId: 'x' }), 1651), false);
  assert.equal(list.sweep(1700), 1);
  assert.equal(list.size, 0);
});
