/**
 * A configured policy path replaces the default pack, and a change to it applies without a restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertOAuthError, authorize, basic, CI_BOT_SECRET, sleep } from '../support/device-flow.js';
import { postForm } from '../support/http.js';
import { startServer, type TestServer } from '../support/in-process.js';

const BASELINE = '@id("baseline")\npermit (principal, action, resource);\n';
const NO_CI_BOT = `@id("no-ci-bot")
@reason("The CI bot may not start device logins.")
forbid (principal == Tether::Client::"ci-bot", action == Tether::Action::"RequestDeviceCode", resource);
`;

describe('a configured policy path', () => {
  let server: TestServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tether-policies-'));
    writeFileSync(join(dir, '00-baseline.cedar'), BASELINE);
    writeFileSync(join(dir, '10-ci.cedar'), NO_CI_BOT);
    server = await startServer({ policy: { path: dir } });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const ciBot = () => postForm(`${server.issuer}/device_authorization`, {}, { authorization: basic('ci-bot', CI_BOT_SECRET) });

  test('its policies decide instead of the default pack, and a change applies without a restart', async () => {
    const refused = await ciBot();
    assertOAuthError(refused, 'unauthorized_client');
    assert.equal(refused.body['error_description'], 'The CI bot may not start device logins.');
    await authorize(server); // tether-cli is not affected
    // The default pack is not in force: a declared automation environment is no reason to refuse here.
    await authorize(server, { client_id: 'tether-cli', tether_environment: 'automation' });

    writeFileSync(join(dir, '10-ci.cedar'), '// nothing forbidden now\n' + BASELINE.replace('baseline', 'also-allowed'));
    const deadline = Date.now() + 5000;
    let reply = await ciBot();
    while (reply.status !== 200 && Date.now() < deadline) {
      await sleep(100);
      reply = await ciBot();
    }
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.ok(server.logs.some((line) => line.includes('policies reloaded')));
  });

  test('a server does not start on policies that do not validate', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'tether-policies-'));
    writeFileSync(join(bad, 'bad.cedar'), 'permit (principal, action, resource) when { resource.teir == "high" };\n');
    try {
      await assert.rejects(startServer({ policy: { path: bad } }), /teir|policy/i);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
