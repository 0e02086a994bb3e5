// The device authorization endpoint (RFC 8628 §3.1, §3.2) and how it stores what it issues.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertOAuthError, authorize, basic, CI_BOT_SECRET } from '../support/device-flow.js';
import { postForm } from '../support/http.js';
import { startServer, type TestServer } from '../support/in-process.js';

const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

describe('device authorization endpoint', () => {
  let server: TestServer;
  let url: string;
  before(async () => {
    server = await startServer();
    url = `${server.issuer}/device_authorization`;
  });
  after(() => server.close());

  it('answers with the RFC 8628 §3.2 fields, uncached', async () => {
    const reply = await postForm(url, { client_id: 'tether-cli' });
    assert.equal(reply.status, 200);
    assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    const body = reply.body;
    // The row id (a UUID), a dot, and 256 bits of base64url (43 characters).
    assert.match(String(body['device_code']), /^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
    assert.match(String(body['user_code']), USER_CODE);
    assert.equal(body['verification_uri'], `${server.issuer}/device`);
    const complete = new URL(String(body['verification_uri_complete']));
    assert.equal(`${complete.origin}${complete.pathname}`, `${server.issuer}/device`);
    assert.equal(complete.searchParams.get('user_code'), body['user_code']);
    assert.equal(body['expires_in'], 300);
    assert.equal(body['interval'], 5);
  });

  it('issues fresh codes on every request', async () => {
    const seen = { device: new Set<string>(), user: new Set<string>() };
    for (let i = 0; i < 10; i++) {
      const codes = await authorize(server);
      seen.device.add(codes.device_code);
      seen.user.add(codes.user_code);
    }
    assert.equal(seen.device.size, 10);
    assert.equal(seen.user.size, 10);
  });

  it('stores the device code only as a hash', async () => {
    const codes = await authorize(server);
    const row = await server.tether.db
      .selectFrom('device_authorizations')
      .selectAll()
      .where('user_code', '=', codes.user_code.replaceAll('-', ''))
      .executeTakeFirst();
    assert.ok(row, 'the request is stored');
    // The code names its row (`<id>.<secret>`): the id is stored, as every row's is; the secret never.
    const secret = codes.device_code.split('.')[1]!;
    for (const [column, value] of Object.entries(row)) {
      assert.ok(!String(value).includes(secret), `column ${column} holds the device code`);
    }
    // Nor anywhere else in the database files.
    const base = join(server.config.data_dir, 'tether.sqlite');
    for (const file of [base, `${base}-wal`]) {
      if (existsSync(file)) assert.ok(!readFileSync(file).includes(secret), `${file} holds the device code`);
    }
  });

  it('accepts a confidential client authenticating with Basic', async () => {
    const codes = await authorize(server, {}, { authorization: basic('ci-bot', CI_BOT_SECRET) });
    assert.match(codes.user_code, USER_CODE);
  });

  it('answers invalid_scope for scopes the client or resource may not have', async () => {
    assertOAuthError(await postForm(url, { client_id: 'tether-cli', scope: 'read nonsense' }), 'invalid_scope');
    assertOAuthError(
      await postForm(url, { scope: 'write' }, { authorization: basic('ci-bot', CI_BOT_SECRET) }),
      'invalid_scope',
    );
    // Payroll does not understand `write`, though tether-cli may have it for the other API.
    assertOAuthError(
      await postForm(url, { client_id: 'tether-cli', resource: 'https://payroll.example', scope: 'write' }),
      'invalid_scope',
    );
  });

  it('answers invalid_target for resources the client may not have', async () => {
    const cases: Record<string, string | string[]>[] = [
      { client_id: 'tether-cli', resource: 'https://evil.example' },
      { client_id: 'tether-cli', resource: 'not a uri' },
      { client_id: 'tether-cli', resource: `${server.api}#fragment` },
      { client_id: 'tether-cli', resource: [server.api, 'https://payroll.example'] },
    ];
    for (const form of cases) assertOAuthError(await postForm(url, form), 'invalid_target');
    assertOAuthError(
      await postForm(url, { resource: 'https://payroll.example' }, { authorization: basic('ci-bot', CI_BOT_SECRET) }),
      'invalid_target',
    );
  });

  it('grants exactly the scopes asked for when they are allowed', async () => {
    const codes = await authorize(server, { client_id: 'tether-cli', resource: 'https://payroll.example', scope: 'admin' });
    const row = await server.tether.db
      .selectFrom('device_authorizations')
      .select(['scope', 'resource'])
      .where('user_code', '=', codes.user_code.replaceAll('-', ''))
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, { scope: 'admin', resource: 'https://payroll.example' });
  });
});

describe('device authorization endpoint: per-client settings', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      device_flow: { code_ttl: '10m', interval: 7 },
      clients: [
        {
          id: 'tether-cli',
          name: 'Tether CLI',
          scopes: ['read'],
          resources: ['https://payroll.example'],
          polling_interval: 2,
          device_code_ttl: '2m',
        },
        { id: 'other', name: 'Other', scopes: ['read'], resources: ['https://payroll.example'] },
      ],
      resources: [{ uri: 'https://payroll.example', name: 'Payroll', scopes: ['read'] }],
    });
  });
  after(() => server.close());

  it('uses the client polling_interval and code lifetime, else the server defaults', async () => {
    const cli = await authorize(server);
    assert.equal(cli.interval, 2);
    assert.equal(cli.expires_in, 120);
    const other = await authorize(server, { client_id: 'other' });
    assert.equal(other.interval, 7);
    assert.equal(other.expires_in, 600);
  });
});
