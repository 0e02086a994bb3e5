import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uuidv7 } from './ids.js';

test('UUIDv7s have the version and variant bits and sort by time', () => {
  const a = uuidv7(1_700_000_000_000);
  const b = uuidv7(1_700_000_000_001);
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(a < b);
  assert.notEqual(uuidv7(), uuidv7());
});
