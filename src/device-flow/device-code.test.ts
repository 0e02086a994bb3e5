import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { hashSecret } from '../shared/crypto.js';
import { uuidv7 } from '../shared/ids.js';
import { generateDeviceCode } from './device-code.js';

test('a device code is stored under the hash the poll compares: SHA-256 of the whole code, base64url', () => {
  for (const text of ['', 'a', 'é\u2028', generateDeviceCode(uuidv7()).code]) {
    assert.equal(hashSecret(text), createHash('sha256').update(text, 'utf8').digest('base64url'));
  }
  const { code, hash } = generateDeviceCode(uuidv7());
  assert.equal(hash, hashSecret(code));
});

test('a device code names its row and carries 32 fresh random bytes, never repeated across pool refills', () => {
  const seen = new Set<string>();
  // 2,000 codes pass the 4 KB pool's refill many times over.
  for (let i = 0; i < 2000; i++) {
    const id = uuidv7();
    const { code } = generateDeviceCode(id);
    const [named, secret, ...rest] = code.split('.');
    assert.equal(named, id);
    assert.deepEqual(rest, []);
    assert.equal(Buffer.from(secret!, 'base64url').length, 32);
    assert.ok(!seen.has(secret!));
    seen.add(secret!);
  }
  // Not the zeros a consumed pool slice is wiped to.
  assert.ok(![...seen].some((c) => Buffer.from(c, 'base64url').every((b) => b === 0)));
});
