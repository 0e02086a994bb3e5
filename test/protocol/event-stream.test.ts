import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { basic } from '../support/device-flow.js';
import { GATEWAY_SECRET, startServer } from '../support/in-process.js';
import { adminRevoke, login } from '../support/tokens.js';

test('the event stream: resource servers only; backlog, then ready, then live revocations; shutdown does not wait on it', async () => {
  const server = await startServer();
  try {
    assert.equal((await fetch(`${server.issuer}/events`)).status, 401);
    const cli = await fetch(`${server.issuer}/events`, { headers: { authorization: basic('ci-bot', 'a-very-long-client-secret-for-tests-0123456789') } });
    assert.equal(((await cli.json()) as { error: string }).error, 'unauthorized_client');

    const before = await login(server);
    await adminRevoke(server, { kind: 'jkt', value: before.key.jkt });
    const response = await fetch(`${server.issuer}/events`, { headers: { authorization: basic('api-gateway', GATEWAY_SECRET) } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = response.body!.getReader();
    let text = '';
    const until = async (pattern: RegExp) => {
      const deadline = Date.now() + 5000;
      while (!pattern.test(text) && Date.now() < deadline) text += Buffer.from((await reader.read()).value ?? []).toString();
      assert.match(text, pattern);
    };
    await until(/event: ready/);
    assert.ok(text.indexOf('id: 1\nevent: revocation') < text.indexOf('event: ready'), 'the backlog comes before ready');

    await adminRevoke(server, { kind: 'user', value: 'bob' });
    await until(/id: 2\nevent: revocation\ndata: (\S+)/);
    const set = /id: 2\nevent: revocation\ndata: (\S+)/.exec(text)?.[1] ?? '';
    assert.equal(decodeProtectedHeader(set).typ, 'secevent+jwt');
    const claims = decodeJwt(set) as { tether: { kind: string; value: string; seq: number } };
    assert.deepEqual([claims.tether.kind, claims.tether.value, claims.tether.seq], ['user', 'bob', 2]);

    const started = Date.now();
    await server.tether.close();
    assert.ok(Date.now() - started < 2000, 'closing the server ends open streams instead of waiting for them');
  } finally {
    await server.close();
  }
});
