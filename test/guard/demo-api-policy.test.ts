import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../support/in-process.js';
import { callApi, login } from '../support/tokens.js';

/** The server's own API is an API too: its configured policies decide each request there (CallResource). */
describe("the server's demo API asks the server's policies", () => {
  let server: TestServer;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tether-demo-policy-'));
    const file = join(dir, 'api.cedar');
    writeFileSync(
      file,
      [
        '@id("baseline")',
        'permit (principal, action, resource);',
        '@id("no-contractors-at-whoami")',
        '@reason("Contractors cannot call this API.")',
        'forbid (principal in Tether::Group::"contractors", action == Tether::Action::"CallResource", resource);',
        '',
      ].join('\n'),
    );
    server = await startServer({ policy: { path: file } });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('alice (engineering) is answered; bob (contractors) gets 403 insufficient_scope with the reason', async () => {
    const alice = await login(server);
    assert.equal((await callApi(server, alice.accessToken, { key: alice.key })).status, 200);
    const bob = await login(server, { user: 'bob' });
    const refused = await callApi(server, bob.accessToken, { key: bob.key });
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.body, { error: 'insufficient_scope', error_description: 'Contractors cannot call this API.' });
    assert.match(refused.challenge ?? '', /^DPoP error="insufficient_scope", error_description="Contractors cannot call this API\."/);
  });
});
