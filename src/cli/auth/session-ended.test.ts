import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { sessionEndedError } from './token-source.js';

test("a refused refresh says revoked or expired, from the server's own descriptions", () => {
  // The refresh grant's messages, read from its source so a rewording there cannot silently break this mapping.
  const grant = readFileSync(new URL('../../grant-types/refresh-token-grant.ts', import.meta.url), 'utf8');
  const messages = [...grant.matchAll(/throw new InvalidGrant\('([^']+)'\)/g)].map((m) => m[1] as string);
  assert.ok(messages.includes('The grant was revoked.'));
  assert.ok(messages.includes('The grant has ended; sign in again.'));
  assert.equal(sessionEndedError('The grant was revoked.').code, 'session_revoked');
  assert.equal(sessionEndedError('The refresh token was already used; the grant is revoked.').code, 'session_revoked');
  assert.equal(sessionEndedError('The grant has ended; sign in again.').code, 'session_ended');
  assert.match(sessionEndedError('The grant has ended; sign in again.').message, /expired/);
  assert.equal(sessionEndedError(undefined).code, 'session_ended');
});
