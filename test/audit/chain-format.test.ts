import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { AuditEvent } from '../../src/audit/event.js';
import { canonicalJson, eventHash, GENESIS_HASH } from '../../src/audit/hash-chain.js';
import { verifyChain } from '../../src/audit/verify.js';
import { auditCommand, AUDIT_TAMPERED } from '../../src/cli/commands/audit.js';
import { auditEventFromRow, chainedRow } from '../../src/storage/audit-log.js';
import { openSqliteHandle } from '../../src/storage/sqlite.js';
import { issuanceEvent } from '../../src/tokens/issue-tokens.js';
import { startServer } from '../support/in-process.js';
import { login } from '../support/tokens.js';

// Two events and their hashes as the code before the appender's shortcut (fixed-order content, loop-built
// canonical JSON) computed them: a data dir written then must keep verifying, byte for byte.
const OLD_FIRST = {
  seq: 1,
  id: '0190f3a2-0000-7000-8000-000000000001',
  type: 'device_code.requested',
  at: 1764590400,
  userId: null,
  clientId: 'cli',
  grantId: null,
  deviceAuthorizationId: '0190f3a2-0000-7000-8000-0000000000aa',
  jti: null,
  jkt: null,
  parentId: null,
  data: {
    ip: '203.0.113.7',
    user_agent: 'curl/8 "quoted" \u00e9\u2028',
    scopes: ['read', 'write'],
    resource: 'https://api.example/',
    environment: null,
    nested: { z: 1, a: [true, null, 2.5], B: 'x' },
    expires_in: 600,
  },
  prevHash: GENESIS_HASH,
  hash: 'Q7aoF2uCcAqRNbLCyAUDCREDWJqlUq2wGvAih4UdOEg',
} as unknown as AuditEvent;
const OLD_SECOND = {
  seq: 2,
  id: '0190f3a2-0000-7000-8000-000000000002',
  type: 'device_code.approved',
  at: 1764590460,
  userId: 'alice',
  clientId: 'cli',
  grantId: 'g-1',
  deviceAuthorizationId: '0190f3a2-0000-7000-8000-0000000000aa',
  jti: 'j-1',
  jkt: 'thumb',
  parentId: OLD_FIRST.id,
  data: {},
  prevHash: OLD_FIRST.hash,
  hash: 'CmniypuO0_7hQzfmiXOVZCJu2XFhjr0gs8cGWRk9N0E',
} as unknown as AuditEvent;

/** The canonical JSON of every earlier version (entries, filter, sort, map), as the oracle for the loop version. */
function referenceCanonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(referenceCanonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${referenceCanonicalJson(v)}`).join(',')}}`;
}

/** Values JSON.stringify and the canonical writer treat differently, which must not take the native shortcut. */
const EXOTIC: (() => unknown)[] = [
  () => new Date(0),
  () => ({ toJSON: () => 'x' }),
  () => new String('boxed'),
  () => [1, , 3], // eslint-disable-line no-sparse-arrays
  () => ({ 2: 'b', 10: 'a', x: 1 }),
  () => ({ b: 1, a: 2 }),
  () => ({ a: 1, f: () => 1 }),
  () => [() => 1],
  () => new Map([['k', 1]]),
  () => Object.assign(Object.create(null) as object, { a: 1, b: [null, undefined] }),
  () => ({ a: NaN, b: -0, c: Infinity }),
];

function randomValue(depth: number, exotic = true): unknown {
  if (exotic && Math.random() < 0.05) return EXOTIC[Math.floor(Math.random() * EXOTIC.length)]?.();
  const pick = Math.floor(Math.random() * (depth > 2 ? 5 : 7));
  const words = ['a', 'B', 'é', '\u2028', '"q"', '\\', 'zz', '\u{1F600}', 'data', ''];
  const word = () => words[Math.floor(Math.random() * words.length)] as string;
  switch (pick) {
    case 0: return null;
    case 1: return Math.random() < 0.5 ? Math.floor(Math.random() * 1e9) : Math.random() * 100;
    case 2: return word() + word();
    case 3: return Math.random() < 0.5;
    case 4: return undefined;
    case 5: return Array.from({ length: Math.floor(Math.random() * 4) }, () => randomValue(depth + 1, exotic));
    default: {
      const entries = Array.from({ length: Math.floor(Math.random() * 5) }, () => [word() + word(), randomValue(depth + 1, exotic)] as const);
      // Half in key order, the shape the native shortcut takes; half in any order.
      if (Math.random() < 0.5) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return Object.fromEntries(entries);
    }
  }
}

test('events hashed before the shortcut still verify, and their hashes are unchanged', async () => {
  for (const { hash, ...content } of [OLD_FIRST, OLD_SECOND]) assert.equal(eventHash(content), hash);
  const report = await verifyChain([OLD_FIRST, OLD_SECOND], [], async () => true);
  assert.deepEqual(report, { ok: true, events: 2, checkpoints: 0 });
});

test('the loop-built canonical JSON is the text the earlier version wrote', () => {
  for (let i = 0; i < 5000; i++) {
    const value = Math.random() < 0.5 ? { data: randomValue(0), list: [randomValue(1), randomValue(1)], nested: randomValue(0) } : randomValue(0);
    assert.equal(canonicalJson(value), referenceCanonicalJson(value));
  }
});

test("an appended row's hash is the one verification recomputes from the stored row", async () => {
  let prev = OLD_SECOND.hash;
  const events: AuditEvent[] = [OLD_FIRST, OLD_SECOND];
  for (let seq = 2; seq < 300; seq++) {
    const maybe = () => (Math.random() < 0.5 ? null : `v-${'é"\\'.repeat(Math.floor(Math.random() * 3))}${seq}`);
    const row = chainedRow(
      {
        type: 'device_code.requested',
        at: 1764590400 + seq,
        userId: maybe(),
        clientId: maybe(),
        grantId: maybe(),
        deviceAuthorizationId: maybe(),
        jti: maybe(),
        jkt: Math.random() < 0.3 ? undefined : maybe(),
        data: { value: randomValue(0, false), more: randomValue(0, false) },
      },
      seq,
      prev,
      Math.random() < 0.5 ? null : 'parent',
    );
    // What verify reads: the row as stored (data parsed back from its text), hashed the general way.
    const stored = auditEventFromRow(row);
    const { hash, ...content } = stored;
    assert.equal(eventHash(content), hash);
    events.push(stored);
    prev = row.hash;
  }
  assert.equal((await verifyChain(events, [], async () => true)).ok, true);
});

test('a data dir whose chain began before the shortcut keeps verifying after new appends', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tether-chain-format-'));
  try {
    // The old events, written as rows the way the previous version stored them.
    const handle = await openSqliteHandle({ dataDir, synchronous: 'normal' });
    const insert = handle.raw.prepare(
      'insert into audit_events (seq, id, type, at, user_id, client_id, grant_id, device_authorization_id, jti, jkt, parent_id, data, prev_hash, hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    for (const e of [OLD_FIRST, OLD_SECOND]) {
      insert.run(e.seq, e.id, e.type, e.at, e.userId, e.clientId, e.grantId, e.deviceAuthorizationId, e.jti, e.jkt, e.parentId, JSON.stringify(e.data), e.prevHash, e.hash);
    }
    handle.raw.prepare('insert into audit_head (id, seq, hash) values (1, 2, ?)').run(OLD_SECOND.hash);
    await handle.db.destroy();

    // New events through every append path a sign-in takes (device authorization's fast path, approval, tokens).
    const server = await startServer({ data_dir: dataDir });
    try {
      await login(server);
    } finally {
      await server.tether.close();
      await server.close();
    }
    const verify = async () => {
      const out: string[] = [];
      const stream = new Writable({ write: (c: Buffer, _e, done) => (out.push(c.toString()), done()) });
      const code = await auditCommand(['verify', '--data-dir', dataDir], { stdout: stream, stderr: stream, stdin: process.stdin, env: {} });
      return { code, text: out.join('') };
    };
    const good = await verify();
    assert.equal(good.code, 0, good.text);
    const raw = await openSqliteHandle({ dataDir, synchronous: 'normal' });
    const count = raw.raw.prepare('select count(*) from audit_events').pluck().get() as number;
    assert.ok(count > 4, `new events were appended after the old ones (${count})`);
    // Verification is not vacuous on either side: an edit of an old event and of a new one are each caught.
    raw.raw.prepare("update audit_events set data = '{}' where seq = 1").run();
    assert.equal((await verify()).code, AUDIT_TAMPERED);
    raw.raw.prepare('update audit_events set data = ? where seq = 1').run(JSON.stringify(OLD_FIRST.data));
    assert.equal((await verify()).code, 0);
    raw.raw.prepare("update audit_events set client_id = 'mallory' where seq = 3").run();
    const tampered = await verify();
    assert.equal(tampered.code, AUDIT_TAMPERED);
    assert.match(tampered.text, /at event 3: edited/);
    await raw.db.destroy();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("an issuance's event data is already in canonical key order, and hashes as the spread-built data did", () => {
  const subject = { grantId: 'g-1', userId: 'alice', clientId: 'tether-cli', scopes: ['read', 'write'], resource: 'https://api.example/', dpopJkt: 'jkt-1', authTime: 1 };
  const issuance = {
    response: { access_token: 'not-a-token', token_type: 'DPoP' as const, expires_in: 300, scope: 'read write' },
    issued: {
      access: { jti: 'j-1', grantId: 'g-1', issuedAt: 100, expiresAt: 400 },
      refresh: { hash: 'h-2', grantId: 'g-1', parentHash: 'h-1', issuedAt: 100, expiresAt: 9000 },
    },
  };
  const context = { ip: '203.0.113.7', userAgent: 'tether/1.0' };
  const cases = [
    issuanceEvent('token.issued', subject, issuance, context, 100, { device_authorization_id: 'd-1', device_class: 'managed', policy: ['p1'] }),
    issuanceEvent('token.refreshed', subject, issuance, context, 100, { previous_refresh_token_hash: 'h-1', device_class: 'unmanaged', policy: [] }),
  ];
  for (const event of cases) {
    const data = event.data as Record<string, unknown>;
    const present = Object.keys(data).filter((k) => data[k] !== undefined);
    assert.deepEqual(present, [...present].sort(), 'keys in code-unit order, or the hash chain sorts them on every append');
    // The text the event was hashed and stored as before (keys in writing order, the extra spread in), canonicalized.
    const before = {
      ip: context.ip,
      user_agent: context.userAgent,
      token_type: 'DPoP',
      scopes: subject.scopes,
      resource: subject.resource,
      ttl: 300,
      expires_at: 400,
      refresh_token_hash: 'h-2',
      refresh_expires_at: 9000,
      ...Object.fromEntries(Object.entries(data).filter(([k, v]) => v !== undefined && ['device_authorization_id', 'previous_refresh_token_hash', 'device_class', 'policy'].includes(k))),
    };
    assert.equal(JSON.stringify(data), canonicalJson(before));
    assert.equal(canonicalJson(data), canonicalJson(before));
  }
  assert.ok(!JSON.stringify(cases[0]?.data).includes('previous_refresh_token_hash'), 'an absent key is left out');
  assert.ok(!JSON.stringify(cases[1]?.data).includes('device_authorization_id'));
});
