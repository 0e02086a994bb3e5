import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from './load.js';

const valid = {
  issuer: 'https://auth.example',
  scopes: ['read'],
  resources: [{ uri: 'https://api.example', name: 'API' }],
  clients: [{ id: 'cli', name: 'CLI', scopes: ['read'], resources: ['https://api.example'] }],
};

test('a valid configuration gets its defaults', () => {
  const config = parseConfig(valid, 't');
  assert.equal(config.device_flow.code_ttl, 300);
  assert.equal(config.device_flow.interval, 5);
  assert.equal(config.tokens.access_token_ttl, 600);
  assert.equal(config.clients[0]?.type, 'public');
});

test('durations accept units', () => {
  const config = parseConfig({ ...valid, tokens: { access_token_ttl: '2m' }, device_flow: { code_ttl: '10m' } }, 't');
  assert.equal(config.tokens.access_token_ttl, 120);
  assert.equal(config.device_flow.code_ttl, 600);
});

function messageOf(raw: unknown): string {
  try {
    parseConfig(raw, 'tether.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  assert.fail('expected a ConfigError');
}

test('errors name the bad field by its path', () => {
  assert.match(messageOf({ ...valid, issuer: 'not a url' }), /issuer:/);
  assert.match(
    messageOf({ ...valid, clients: [{ ...valid.clients[0], device_code_ttl: '20m' }] }),
    /clients\.0\.device_code_ttl: at most 15 minutes/,
  );
  assert.match(messageOf({ ...valid, clients: [{ ...valid.clients[0], scopes: ['nope'] }] }), /clients\.0\.scopes\.0: unknown scope/);
  assert.match(messageOf({ ...valid, clients: [{ ...valid.clients[0], type: 'confidential' }] }), /clients\.0\.secret/);
  assert.match(messageOf({ ...valid, tokens: { access_token_ttl: 'soon' } }), /tokens\.access_token_ttl: expected a duration/);
  assert.match(messageOf({ ...valid, surprise: true }), /surprise|Unrecognized/);
});

test('resource tiers and the policy section have defaults and are checked', () => {
  const config = parseConfig(valid, 't');
  assert.equal(config.resources[0]?.tier, 'low');
  assert.deepEqual(config.policy, { networks: {}, time_zone: 'UTC' });
  const set = parseConfig(
    { ...valid, resources: [{ ...valid.resources[0], tier: 'high' }], policy: { path: './policies', networks: { office: ['203.0.113.0/24'] }, time_zone: 'Europe/Berlin' } },
    't',
  );
  assert.equal(set.resources[0]?.tier, 'high');
  assert.equal(set.policy.path, './policies');
  assert.match(messageOf({ ...valid, resources: [{ ...valid.resources[0], tier: 'secret' }] }), /resources\.0\.tier/);
  assert.match(messageOf({ ...valid, policy: { networks: { office: ['203.0.113.0/33'] } } }), /policy\.networks\.office\.0: expected an address or CIDR range/);
  assert.match(messageOf({ ...valid, policy: { networks: { public: ['10.0.0.0/8'] } } }), /built-in names/);
  assert.match(messageOf({ ...valid, policy: { time_zone: 'Mars/Olympus' } }), /policy\.time_zone: expected an IANA time zone/);
});

test('a confidential client may give its secret as a SHA-256 hash only, never both, never on a public client', () => {
  const hash = 'x'.repeat(43);
  const gateway = { id: 'gw', name: 'GW', type: 'confidential', secret_hash: hash, introspection: true };
  assert.equal(parseConfig({ ...valid, clients: [...valid.clients, gateway] }, 't').clients[1]?.secret_hash, hash);
  assert.match(messageOf({ ...valid, clients: [{ ...gateway, secret: 's'.repeat(32) }] }), /clients\.0\.secret_hash: give secret or secret_hash, not both/);
  assert.match(messageOf({ ...valid, clients: [{ ...gateway, secret_hash: 'short' }] }), /clients\.0\.secret_hash: the SHA-256 of the secret/);
  assert.match(messageOf({ ...valid, clients: [{ ...gateway, type: 'public', introspection: false }] }), /clients\.0\.secret:/);
});
