import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { hashSecret } from '../shared/crypto.js';
import { generateDeviceCode } from './device-code.js';

test('a device code is stored under the hash the poll looks it up by: SHA-256, base64url', () => {
  for (const text of ['', 'a', 'é\u2028', generateDeviceCode().code]) {
    assert.equal(hashSecret(text), createHash('sha256').update(text, 'utf8').digest('base64url'));
  }
  const { code, hash } = generateDeviceCode();
  assert.equal(hash, hashSecret(code));
});

test('device codes are 32 fresh random bytes each, never repeated across pool refills', () => {
  const seen = new Set<string>();
  // 2,000 codes pass the 4 KB pool's refill many times over.
  for (let i = 0; i < 2000; i++) {
    const { code } = generateDeviceCode();
    assert.equal(Buffer.from(code, 'base64url').length, 32);
    assert.ok(!seen.has(code));
    seen.add(code);
  }
  // Not the zeros a consumed pool slice is wiped to.
  assert.ok(![...seen].some((c) => Buffer.from(c, 'base64url').every((b) => b === 0)));
});
