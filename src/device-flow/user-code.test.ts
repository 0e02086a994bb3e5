import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatUserCode, generateUserCode, normalizeUserCode, USER_CODE_ALPHABET, USER_CODE_SPACE } from './user-code.js';

test('user codes are 8 letters from the RFC 8628 §6.1 alphabet', () => {
  for (let i = 0; i < 1000; i++) assert.match(generateUserCode(), /^[BCDFGHJKLMNPQRSTVWXZ]{8}$/);
  assert.equal(USER_CODE_ALPHABET.length, 20);
  assert.equal(USER_CODE_SPACE, 20 ** 8);
});

test('generated codes use the whole alphabet', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 500; i++) for (const ch of generateUserCode()) seen.add(ch);
  assert.equal(seen.size, 20);
});

test('codes are shown as XXXX-XXXX', () => {
  assert.equal(formatUserCode('BCDFGHJK'), 'BCDF-GHJK');
});

test('typed codes are accepted case-insensitively with dashes and spaces ignored', () => {
  for (const typed of ['BCDF-GHJK', 'bcdf-ghjk', 'bcdfghjk', ' bc df  gh-jk ', 'Bcdf\tGhjk']) {
    assert.equal(normalizeUserCode(typed), 'BCDFGHJK', typed);
  }
});

test('input that cannot be a code is rejected before any lookup', () => {
  for (const typed of ['', 'BCDF-GHJ', 'BCDF-GHJKL', 'ABCD-EFGH', 'BCDF-GHJ1', 'BCDF_GHJK']) {
    assert.equal(normalizeUserCode(typed), undefined, typed);
  }
});
