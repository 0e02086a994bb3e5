// Requesting device codes: a rate per client address and caps on live codes per address and per client, answered
// with 429, Retry-After and RFC 8628's slow_down as JSON.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/shared/clock.js';
import { basic, CI_BOT_SECRET } from '../support/device-flow.js';
import { startServer, type TestServer } from '../support/in-process.js';

async function request(server: TestServer, ip: string, form = 'client_id=tether-cli', headers: Record<string, string> = {}) {
  const response = await server.tether.http.inject({
    method: 'POST',
    url: '/device_authorization',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: form,
    remoteAddress: ip,
  });
  return { status: response.statusCode, headers: response.headers, body: response.json() as Record<string, unknown> };
}

function assertSlowDown(reply: Awaited<ReturnType<typeof request>>, where: string): number {
  assert.equal(reply.status, 429, where);
  assert.equal(reply.body['error'], 'slow_down', where);
  assert.equal(typeof reply.body['error_description'], 'string', where);
  assert.equal(reply.headers['cache-control'], 'no-store', where);
  assert.match(String(reply.headers['content-type']), /^application\/json/, where);
  const retryAfter = String(reply.headers['retry-after']);
  assert.match(retryAfter, /^[1-9]\d*$/, `${where}: Retry-After`);
  return Number(retryAfter);
}

describe('device authorization limits', () => {
  it('rate-limits one address, not the others, and lets it in again after the window', async () => {
    const clock = new FakeClock(Math.floor(Date.now() / 1000));
    const server = await startServer({ brute_force: { device_authorization: { per_ip_requests: 5, window: '1m', live_codes_per_ip: 100 } } }, clock);
    try {
      for (let i = 0; i < 5; i++) assert.equal((await request(server, '203.0.113.1')).status, 200);
      const wait = assertSlowDown(await request(server, '203.0.113.1'), 'sixth request in a minute');
      assert.ok(wait <= 60);
      assert.equal((await request(server, '203.0.113.2')).status, 200, 'another address is not affected');
      clock.advance(wait);
      assert.equal((await request(server, '203.0.113.1')).status, 200, 'the window has passed');
    } finally {
      await server.close();
    }
  });

  it('caps the live codes one address may hold', async () => {
    const server = await startServer({ brute_force: { device_authorization: { live_codes_per_ip: 3 } } });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await request(server, '203.0.113.3')).status, 200);
      assertSlowDown(await request(server, '203.0.113.3'), 'fourth live code');
      assert.equal((await request(server, '203.0.113.4')).status, 200);
    } finally {
      await server.close();
    }
  });

  it('still counts the codes an address got before a restart', async () => {
    // The SQLite store answers "none live" for an address without a query when it knows of no code of it that
    // can still be live; it must learn the codes already in the file when it opens, or a restart resets the cap.
    const limits = { brute_force: { device_authorization: { live_codes_per_ip: 3 } } };
    const first = await startServer(limits);
    const dataDir = first.config.data_dir;
    await first.tether.close();
    const { rmSync } = await import('node:fs');
    try {
      const before = await startServer({ ...limits, data_dir: dataDir });
      for (let i = 0; i < 3; i++) assert.equal((await request(before, '203.0.113.5')).status, 200);
      await before.tether.close();
      const after = await startServer({ ...limits, data_dir: dataDir });
      try {
        assertSlowDown(await request(after, '203.0.113.5'), 'fourth live code, after a restart');
        assert.equal((await request(after, '203.0.113.6')).status, 200, 'another address is not affected');
      } finally {
        await after.tether.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      await first.close();
    }
  });

  it('caps the live codes one client may hold, from whatever address', async () => {
    const server = await startServer({ brute_force: { device_authorization: { live_codes_per_client: 4 } } });
    try {
      for (let i = 0; i < 4; i++) assert.equal((await request(server, `203.0.113.${10 + i}`)).status, 200);
      assertSlowDown(await request(server, '203.0.113.99'), 'fifth live code of tether-cli');
      const other = await request(server, '203.0.113.99', '', { authorization: basic('ci-bot', CI_BOT_SECRET) });
      assert.equal(other.status, 200, 'another client still gets codes');
    } finally {
      await server.close();
    }
  });
});
