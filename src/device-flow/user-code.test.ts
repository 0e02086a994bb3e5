import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatUserCode,
  generateUserCode,
  normalizeUserCode,
  USER_CODE_ALPHABET,
  userCodeProblem,
  USER_CODE_SPACE,
} from './user-code.js';

test('user codes are 12 letters from the RFC 8628 §6.1 alphabet', () => {
  for (let i = 0; i < 1000; i++) assert.match(generateUserCode(), /^[BCDFGHJKLMNPQRSTVWXZ]{12}$/);
  assert.equal(USER_CODE_ALPHABET.length, 20);
  assert.equal(USER_CODE_SPACE, 20 ** 12);
});

test('generated codes use the whole alphabet', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 500; i++) for (const ch of generateUserCode()) seen.add(ch);
  assert.equal(seen.size, 20);
});

test('codes are shown as XXXX-XXXX-XXXX', () => {
  assert.equal(formatUserCode('BCDFGHJKLMNP'), 'BCDF-GHJK-LMNP');
});

test('typed codes are accepted case-insensitively with dashes and spaces ignored', () => {
  for (const typed of ['BCDF-GHJK-LMNP', 'bcdf-ghjk-lmnp', 'bcdfghjklmnp', ' bc df  gh-jk lm np', 'Bcdf\tGhjk\nLmnp']) {
    assert.equal(normalizeUserCode(typed), 'BCDFGHJKLMNP', typed);
  }
});

test('input that cannot be a code is rejected before any lookup', () => {
  for (const typed of ['', 'BCDF-GHJK', 'BCDF-GHJK-LMN', 'BCDF-GHJK-LMNPQ', 'ABCD-EFGH-IJKL', 'BCDF-GHJK-LMN1', 'BCDF_GHJK_LMNP']) {
    assert.equal(normalizeUserCode(typed), undefined, typed);
  }
});

test('what is wrong with typed input is named: letters codes never use, or the length', () => {
  assert.deepEqual(userCodeProblem('ABCD-EFGH'), { kind: 'letters', unused: ['A', 'E'] });
  assert.deepEqual(userCodeProblem('BCDF-GHJK'), { kind: 'length', letters: 8 });
  assert.equal(userCodeProblem('bcdf-ghjk-lmnp'), undefined);
});
