import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MetricsAccess } from '../../src/observability/metrics-access.js';
import { hashSecret } from '../../src/shared/crypto.js';
import { startServer, type TestServer } from '../support/in-process.js';

const SCRAPER_TOKEN = 'tether_metrics_9f8e7d6c5b4a39281706f5e4d3c2b1a0';

/**
 * `/metrics` is not public (issue 10, point 7): counts of logins, refusals and revocations per client are for the
 * operator's scraper. Today anyone who can reach the server reads them.
 */
describe('/metrics needs the scraper token', () => {
  let server: TestServer;

  before(async () => {
    // trust_proxy: a forged X-Forwarded-For must not buy anything either.
    server = await startServer({ metrics: { bearer_token_hashes: [hashSecret(SCRAPER_TOKEN)] }, trust_proxy: true });
  });
  after(() => server.close());

  test('no token, a wrong token, another scheme or a forged loopback address: 401 and no numbers', async () => {
    for (const headers of <Record<string, string>[]>[
      {},
      { authorization: 'Bearer tether_metrics_wrong_0000000000000000000000' },
      { authorization: `Basic ${Buffer.from(`x:${SCRAPER_TOKEN}`).toString('base64')}` },
      { authorization: `Bearer ${SCRAPER_TOKEN.slice(0, -1)}` },
      { 'x-forwarded-for': '127.0.0.1' },
    ]) {
      const response = await fetch(`${server.issuer}/metrics`, { headers });
      assert.equal(response.status, 401, JSON.stringify(headers));
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer realm="tether-metrics"/);
      const text = await response.text();
      assert.doesNotMatch(text, /tether_/);
      assert.equal((JSON.parse(text) as { error: string }).error, 'invalid_token');
    }
  });

  test('the configured token reads them', async () => {
    const response = await fetch(`${server.issuer}/metrics`, { headers: { authorization: `Bearer ${SCRAPER_TOKEN}` } });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /tether_http_request_duration_seconds/);
  });
});

test('loopback-only access (the dev tenant) goes by the socket peer, in every address form', () => {
  const access = new MetricsAccess([], true);
  for (const peer of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) assert.equal(access.allows(undefined, peer), true, peer);
  for (const peer of ['10.0.0.1', '::ffff:10.0.0.1', '::2', '0.0.0.0', '128.0.0.1', 'fe80::1', undefined]) {
    assert.equal(access.allows(undefined, peer), false, String(peer));
  }
  assert.equal(new MetricsAccess([], false).allows(undefined, '127.0.0.1'), false, 'off unless configured');
});
