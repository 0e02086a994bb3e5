import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { basic, authorize, decide, redeem } from '../support/device-flow.js';
import { FormBrowser } from '../support/browser-form.js';
import { dpopKey } from '../support/dpop.js';
import { postForm } from '../support/http.js';
import { hashSecret } from '../../src/shared/crypto.js';
import { ADMIN_KEY, GATEWAY_SECRET, startServer, TEST_PASSWORD, type TestServer } from '../support/in-process.js';

const METRICS_TOKEN = 'tether_metrics_scraper_token_0123456789abcdef';
import { adminRevoke, callApi, introspect, login, refresh } from '../support/tokens.js';

describe('operational logs and metrics', () => {
  let server: TestServer;
  const secrets = new Set<string>([TEST_PASSWORD, ADMIN_KEY, GATEWAY_SECRET, METRICS_TOKEN, 'a-very-long-client-secret-for-tests-0123456789']);

  before(async () => {
    server = await startServer({ metrics: { bearer_token_hashes: [hashSecret(METRICS_TOKEN)] } });
    // Every flow of the end-to-end suites, at debug level, remembering every secret that passes.
    const session = await login(server);
    secrets.add(session.accessToken).add(session.refreshToken);
    const api = await callApi(server, session.accessToken, { key: session.key });
    assert.equal(api.status, 200);
    await callApi(server, session.accessToken, { scheme: 'Bearer', key: null });
    const rotated = await refresh(server, session.refreshToken, session.key);
    secrets.add(String(rotated.body['access_token'])).add(String(rotated.body['refresh_token']));
    await introspect(server, String(rotated.body['access_token']));
    await refresh(server, session.refreshToken, session.key); // reuse
    const codes = await authorize(server);
    secrets.add(codes.device_code).add(codes.user_code).add(codes.user_code.replaceAll('-', ''));
    const browser = new FormBrowser(server.issuer);
    await browser.get('/device');
    secrets.add(browser.csrf());
    await browser.post('/device/sign-in', { username: 'alice', password: TEST_PASSWORD });
    await browser.post('/device', { user_code: 'BCDF-GHJK-LMNP' });
    await browser.get(`/device?user_code=${codes.user_code}`);
    await decide(server, codes.user_code, 'deny');
    await redeem(server, codes.device_code);
    const key = await dpopKey();
    const proof = await key.proof('POST', `${server.issuer}/token`);
    secrets.add(proof);
    await redeem(server, 'not-a-code', { client_id: 'tether-cli' }, { DPoP: proof });
    await redeem(server, 'not-a-code', { client_id: 'tether-cli' }, { DPoP: proof });
    await postForm(`${server.issuer}/device_authorization`, { client_id: 'ci-bot' }, { authorization: basic('ci-bot', 'wrong-secret-of-sufficient-length-000000') });
    secrets.add('wrong-secret-of-sufficient-length-000000');
    const bob = await login(server, { user: 'bob' });
    secrets.add(bob.accessToken).add(bob.refreshToken);
    await postForm(`${server.issuer}/revoke`, { client_id: 'tether-cli', token: bob.refreshToken });
    await adminRevoke(server, { kind: 'all', reason: 'drill' });
  });
  after(() => server.close());

  test('no log line contains any token, code, password, key, proof or secret seen', () => {
    assert.ok(server.logs.length > 20, `expected request logs at debug level, got ${server.logs.length} lines`);
    const offending = [...secrets].filter((s) => server.logs.some((line) => line.includes(s)));
    assert.deepEqual(offending.map((s) => `${s.slice(0, 6)}…`), []);
  });

  test('the logger itself redacts secret-named fields', () => {
    server.tether.http.log.info({ access_token: 'leak-me-1', nested: { refresh_token: 'leak-me-2' }, password: 'leak-me-3' }, 'probe');
    const probe = server.logs.find((l) => l.includes('"probe"'));
    assert.ok(probe);
    assert.ok(!probe.includes('leak-me'), probe);
    assert.match(probe, /\[redacted\]/);
  });

  test('/metrics reports device codes, decisions, tokens, polls, reuse, revocations and latencies', async () => {
    const text = await (await fetch(`${server.issuer}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
    assert.ok(value(/tether_device_codes_requested_total\{client="tether-cli"\} (\d+)/) >= 3);
    assert.equal(value(/tether_device_decisions_total\{decision="deny"\} (\d+)/), 1);
    assert.ok(value(/tether_device_decisions_total\{decision="approve"\} (\d+)/) >= 2);
    assert.ok(value(/tether_token_requests_total\{grant_type="urn:ietf:params:oauth:grant-type:device_code",outcome="issued"\} (\d+)/) >= 2);
    assert.equal(value(/tether_token_requests_total\{grant_type="refresh_token",outcome="issued"\} (\d+)/), 1);
    assert.equal(value(/tether_refresh_token_reuse_detected_total (\d+)/), 1);
    assert.equal(value(/tether_revocations_total\{via="admin_api",kind="all"\} (\d+)/), 1);
    assert.equal(value(/tether_revocations_total\{via="token_revocation",kind="grant"\} (\d+)/), 1);
    assert.equal(value(/tether_user_code_failures_total\{reason="no_such_code"\} (\d+)/), 1);
    assert.match(text, /tether_http_request_duration_seconds_bucket\{le="0.005",method="POST",route="\/token"/);
    for (const s of secrets) assert.ok(!text.includes(s));
  });
});
