import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatUserCode,
  generateUserCode,
  normalizeUserCode,
  USER_CODE_ALPHABET,
  USER_CODE_HINT,
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

test('the hint names the letters a code uses, so a code with vowels is explained', () => {
  assert.ok(USER_CODE_HINT.includes(USER_CODE_ALPHABET));
  assert.match(USER_CODE_HINT, /no vowels/);
});
