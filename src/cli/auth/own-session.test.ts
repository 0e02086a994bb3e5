import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClientError } from './errors.js';
import { NonceCache } from './oauth-http.js';
import { askServer, type OwnSessionContext } from './own-session.js';
import type { TokenSource } from './token-source.js';

function context(fetchFn: typeof fetch, tokens: Partial<TokenSource> = {}): OwnSessionContext {
  return {
    fetch: fetchFn,
    key: { jkt: 'k', proof: async () => 'proof' } as unknown as OwnSessionContext['key'],
    nonces: new NonceCache(),
    tokens: { accessToken: async () => 'at', afterRejection: async () => undefined, ...tokens } as unknown as TokenSource,
    endpoint: 'http://127.0.0.1:1/session',
  };
}

test('the server view: active, revoked (the refresh says so), ended, unreachable, or unknown without an endpoint', async () => {
  const answer = (body: unknown) => async () => new Response(JSON.stringify(body), { status: 200 });
  assert.deepEqual(await askServer(context(answer({ active: true, expires_at: 99 }))), { state: 'active', grantExpiresAt: 99 });
  const revoked = context(answer({ active: false }), {
    afterRejection: async () => {
      throw new ClientError('session_revoked', 'revoked');
    },
  });
  assert.deepEqual(await askServer(revoked), { state: 'revoked' });
  assert.deepEqual(await askServer(context(answer({ active: false }))), { state: 'ended' });
  const stale = context(answer({}), {
    accessToken: async () => {
      throw new ClientError('session_revoked', 'revoked');
    },
  });
  assert.deepEqual(await askServer(stale), { state: 'revoked' });
  const down = await askServer(context(async () => Promise.reject(new TypeError('fetch failed'))));
  assert.equal(down.state, 'unreachable');
  assert.deepEqual(await askServer({ ...context(answer({})), endpoint: undefined }), { state: 'unknown' });
});
