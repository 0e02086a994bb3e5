import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { eventHash } from '../../src/audit/hash-chain.js';
import { auditCommand, AUDIT_TAMPERED } from '../../src/cli/commands/audit.js';
import { auditEventFromRow } from '../../src/storage/audit-log.js';
import type { AuditEventTable } from '../../src/storage/schema.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { login } from '../support/tokens.js';

/** Runs `tether audit verify` on the data directory and returns its exit code and output. */
async function verify(dataDir: string): Promise<{ code: number; text: string }> {
  const out: string[] = [];
  const stream = new Writable({ write: (c: Buffer, _e, done) => (out.push(c.toString()), done()) });
  const code = await auditCommand(['verify', '--data-dir', dataDir], { stdout: stream, stderr: stream, stdin: process.stdin, env: {} });
  return { code, text: out.join('') };
}

describe('tamper evidence', () => {
  let server: TestServer;
  let dataDir: string;
  let sqlite: Database.Database;

  beforeEach(async () => {
    server = await startServer();
    dataDir = server.config.data_dir;
    await login(server);
    await login(server, { user: 'bob' });
    await server.tether.close(); // writes a signed checkpoint of the head
    sqlite = new Database(join(dataDir, 'tether.sqlite'));
  });
  afterEach(async () => {
    sqlite.close();
    await server.close().catch(() => undefined);
  });

  const row = (seq: number) => sqlite.prepare('select * from audit_events where seq = ?').get(seq) as AuditEventTable;

  test('an untouched chain verifies', async () => {
    const { code, text } = await verify(dataDir);
    assert.equal(code, 0, text);
    assert.match(text, /1 signed checkpoints verified/);
  });

  test('an edited event is named', async () => {
    sqlite.prepare("update audit_events set user_id = 'mallory' where seq = 4").run();
    const { code, text } = await verify(dataDir);
    assert.equal(code, AUDIT_TAMPERED);
    assert.match(text, /at event 4: edited/);
  });

  test('a deleted event is named', async () => {
    sqlite.prepare('delete from audit_events where seq = 3').run();
    const { code, text } = await verify(dataDir);
    assert.equal(code, AUDIT_TAMPERED);
    assert.match(text, /at event 4: sequence_gap/);
  });

  test('an inserted event is named, even with its own hash recomputed', async () => {
    // Shift later events up by one and forge a new event 3 that links to event 2.
    sqlite.prepare('update audit_events set seq = seq + 1000 where seq >= 3').run();
    sqlite.prepare('update audit_events set seq = seq - 999 where seq >= 1003').run();
    const forged = { ...auditEventFromRow(row(2)), seq: 3, id: 'forged', type: 'device.approved' as const, prevHash: row(2).hash };
    const { hash: _ignored, ...content } = forged;
    const hash = eventHash(content);
    sqlite
      .prepare('insert into audit_events (seq, id, type, at, user_id, client_id, grant_id, device_authorization_id, jti, jkt, parent_id, data, prev_hash, hash) values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)')
      .run(3, 'forged', forged.type, forged.at, forged.userId, forged.clientId, forged.grantId, forged.deviceAuthorizationId, forged.jti, forged.jkt, forged.parentId, row(2).data, forged.prevHash, hash);
    const { code, text } = await verify(dataDir);
    assert.equal(code, AUDIT_TAMPERED);
    assert.match(text, /at event 4: broken_link/);
  });

  test('reordered events are named', async () => {
    const a = row(5);
    const b = row(6);
    sqlite.prepare('update audit_events set seq = -1 where seq = 5').run();
    sqlite.prepare('update audit_events set seq = 5 where seq = 6').run();
    sqlite.prepare('update audit_events set seq = 6 where seq = -1').run();
    assert.notEqual(a.hash, b.hash);
    const { code, text } = await verify(dataDir);
    assert.equal(code, AUDIT_TAMPERED);
    assert.match(text, /at event 5: broken_link/);
  });

  test('a chain rewritten from some event on, every hash recomputed, fails at the signed checkpoint', async () => {
    sqlite.prepare("update audit_events set user_id = 'mallory' where seq = 4").run();
    const rows = sqlite.prepare('select * from audit_events where seq >= 4 order by seq').all() as AuditEventTable[];
    let prev = row(3).hash;
    for (const r of rows) {
      const { hash: _old, ...content } = { ...auditEventFromRow(r), prevHash: prev };
      const hash = eventHash(content);
      sqlite.prepare('update audit_events set prev_hash = ?, hash = ? where seq = ?').run(prev, hash, r.seq);
      prev = hash;
    }
    const { code, text } = await verify(dataDir);
    assert.equal(code, AUDIT_TAMPERED);
    assert.match(text, /checkpoint_mismatch/);
  });

  test('events cut off the end, below a signed checkpoint, are noticed', async () => {
    const last = (sqlite.prepare('select max(seq) as m from audit_events').get() as { m: number }).m;
    sqlite.prepare('delete from audit_events where seq = ?').run(last);
    const { code, text } = await verify(dataDir);
    assert.equal(code, AUDIT_TAMPERED);
    assert.match(text, new RegExp(`at event ${last}: truncated`));
  });
});
