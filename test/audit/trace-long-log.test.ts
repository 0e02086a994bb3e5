// A grant's provenance on a long log: the events of one grant spread over several blocks of the grant trace
// index (migration 0009-audit-append-indexes), with tens of thousands of other grants' events between them.
// Someone who uses a stolen refresh token (over real HTTP) must still show up in `tether audit trace`, descended
// from the grant's issuance, however much the log has grown since the grant began.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { auditCommand } from '../../src/cli/commands/audit.js';
import { GRANT_BLOCK_EVENTS } from '../../src/storage/audit-grant-blocks.js';
import { SqlAuditLog } from '../../src/storage/audit-log.js';
import { uuidv7 } from '../../src/shared/ids.js';
import { fillAuditChain } from '../support/audit-fill.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { introspect, login, refresh } from '../support/tokens.js';

describe('audit trace on a log of several index blocks', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test("a refresh made after 2.5 blocks of other grants' events is in the grant's trace, with its parent", async () => {
    const session = await login(server);
    const { jti, sid } = decodeJwt(session.accessToken) as { jti: string; sid: string };
    const others = Array.from({ length: 50 }, () => uuidv7());
    await fillAuditChain(server.tether.db, Math.floor(GRANT_BLOCK_EVENTS * 2.5), (i) => ({
      type: 'token.introspected',
      at: Math.floor(Date.now() / 1000),
      clientId: 'api-gateway',
      grantId: others[i % others.length]!,
      jti: uuidv7(),
      data: { active: true, token_type: 'DPoP', caller: 'api-gateway' },
    }));
    const rotated = await refresh(server, session.refreshToken, session.key);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const refreshedJti = (decodeJwt(String(rotated.body['access_token'])) as { jti: string }).jti;
    assert.equal((await introspect(server, String(rotated.body['access_token'])))['active'], true);

    const events = await new SqlAuditLog(server.tether.db).query({ grantId: sid });
    const issued = events.find((e) => e.type === 'token.issued' && e.jti === jti)!;
    const refreshed = events.find((e) => e.type === 'token.refreshed' && e.jti === refreshedJti);
    assert.ok(refreshed, 'the refresh is among the grant events');
    assert.equal(refreshed.parentId, issued.id, 'and descends from its issuance');
    assert.ok(refreshed.seq - issued.seq > GRANT_BLOCK_EVENTS * 2, 'with more than two blocks between them');
    assert.ok(events.some((e) => e.type === 'token.introspected' && e.jti === refreshedJti));

    const out: string[] = [];
    const stream = new Writable({ write: (c: Buffer, _e, done) => (out.push(c.toString()), done()) });
    const io = { stdout: stream, stderr: stream, stdin: process.stdin, env: {} };
    const dataDir = server.config.data_dir;
    assert.equal(await auditCommand(['trace', jti, '--data-dir', dataDir], io), 0, out.join(''));
    const story = out.join('');
    assert.match(story, /Approved .* by alice/);
    assert.match(story, new RegExp(`Token issued .* jti ${jti} `));
    assert.match(story, new RegExp(`Token refreshed .* jti ${refreshedJti} `));
    out.length = 0;
    assert.equal(await auditCommand(['verify', '--data-dir', dataDir], io), 0, out.join(''));
  });
});
