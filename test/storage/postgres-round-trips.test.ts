// On PostgreSQL every statement is a round trip to the server, and an append holds the audit head's row lock, on
// which every append of every instance queues, from the statement that takes it to the commit. The statements a
// refresh rotation and a redemption send, read from Kysely's query log: the token writes in one statement, the
// audit event in two, and only one statement between the head lock and the commit. The writes are then read back:
// the same rows (and no access token row: access tokens are not stored), the parent found, the chain intact, and a
// rotation that loses writes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { AuditEventInput } from '../../src/audit/event.js';
import { verifyChain } from '../../src/audit/verify.js';
import { SqlAuditCheckpoints, SqlAuditLog } from '../../src/storage/audit-log.js';
import { pgTypes } from '../../src/storage/postgres.js';
import type { Database } from '../../src/storage/schema.js';
import { SqlDeviceAuthorizationStore } from '../../src/storage/device-authorizations.js';
import { SqlGrantStore } from '../../src/storage/grants.js';
import { insertIssuedTokens, SqlTokenStore } from '../../src/storage/tokens.js';
import { uuidv7 } from '../../src/shared/ids.js';
import { suiteStorage, testEngines } from '../support/storage-engines.js';
import { FIXTURE_NOW, grantFor, pendingAuthorization } from '../support/storage-fixtures.js';

const NOW = FIXTURE_NOW;
const ctx = { ip: '192.0.2.1', userAgent: 'round-trips-test' };

const tokensFor = (grantId: string, parentHash: string | null = null) => ({
  access: { jti: uuidv7(), grantId, issuedAt: NOW, expiresAt: NOW + 600 },
  refresh: { hash: `rt-${uuidv7()}`, grantId, parentHash, issuedAt: NOW, expiresAt: NOW + 3600 },
});

// The PostgreSQL half of the shared two-engine setup: the statement shapes counted here are PostgreSQL's own.
const [, makePostgres, skip] = testEngines('round-trips').find(([name]) => name === 'postgres')!;

describe('PostgreSQL round trips of a token response', { skip }, () => {
  const suite = suiteStorage(makePostgres);
  let logged: Kysely<Database>;
  const statements: string[] = [];

  before(() => {
    const { options, env } = suite.engine;
    logged = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: env[options.url_env!], max: 2, types: pgTypes }) }),
      log: (e) => void (e.level === 'query' && statements.push(e.query.sql)),
    });
  });
  after(async () => {
    await logged?.destroy();
  });
  const accessTokenRows = async () =>
    Number((await suite.storage.db.selectFrom('access_tokens').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

  /** A grant with its issuance recorded, as a redemption leaves it. */
  async function issuedGrant() {
    const a = pendingAuthorization(ctx);
    const event = (type: AuditEventInput['type'], extra: Partial<AuditEventInput> = {}): AuditEventInput => ({ type, at: NOW, data: {}, ...extra });
    assert.equal(await suite.storage.deviceAuthorizations.create(a, [event('device_code.requested', { deviceAuthorizationId: a.id })]), true);
    const grant = grantFor(a);
    assert.equal(await suite.storage.deviceAuthorizations.approve(a.id, NOW + 1, ctx, grant, [event('device.approved', { grantId: grant.id })]), true);
    const first = tokensFor(grant.id);
    await suite.storage.db.transaction().execute(async (tx) => {
      await insertIssuedTokens(tx, first);
    });
    await new SqlAuditLog(suite.storage.db).record([event('token.issued', { grantId: grant.id, parent: { type: 'device.approved', grantId: grant.id } })]);
    return { grant, first };
  }

  test('a rotation: the refresh tokens in one statement, the event in two, one statement between the head lock and the commit', async () => {
    const { grant, first } = await issuedGrant();
    const next = tokensFor(grant.id, first.refresh.hash);
    const refreshed: AuditEventInput = {
      type: 'token.refreshed',
      at: NOW,
      grantId: grant.id,
      jti: next.access.jti,
      parent: { type: 'token.issued', grantId: grant.id },
      data: { previous_refresh_token_hash: first.refresh.hash },
    };
    statements.length = 0;
    assert.equal(await new SqlTokenStore(logged).rotateRefreshToken(first.refresh.hash, next, [refreshed]), true);

    const kinds = statements.map((s) => s.trim().split(/\s+/).slice(0, 3).join(' '));
    assert.equal(statements.length, 5, kinds.join(' | '));
    assert.equal(kinds[0], 'begin');
    assert.match(statements[1]!, /^\s*with claimed as \(\s*update refresh_tokens/);
    assert.match(statements[2]!, /^with "head" as \(insert into "audit_head"/);
    assert.match(statements[2]!, /select "id" from "audit_events"/, 'the parent is looked up in the lock statement');
    assert.match(statements[3]!, /^with "appended" as \(insert into "audit_events".*update "audit_head"/s);
    assert.equal(kinds[4], 'commit');

    // What those statements wrote: the old token retired, the new ones stored, the event linked to its parent.
    const tokens = new SqlTokenStore(suite.storage.db);
    assert.equal((await tokens.findRefreshToken(first.refresh.hash))?.status, 'rotated');
    assert.deepEqual(await tokens.findRefreshToken(next.refresh.hash), { ...next.refresh, status: 'active' });
    assert.equal(await accessTokenRows(), 0, 'access tokens are not stored');
    const [issued, event] = await suite.storage.audit.query({ grantId: grant.id, type: undefined }).then((all) => all.filter((e) => e.type !== 'device.approved'));
    assert.equal(issued?.type, 'token.issued');
    assert.equal(event?.type, 'token.refreshed');
    assert.equal(event?.parentId, issued?.id);
    assert.equal(event?.jti, next.access.jti);
    const everything = await new SqlAuditCheckpoints(suite.storage.db).allEvents();
    assert.equal((await verifyChain(everything, [], async () => true)).ok, true);
  });

  test('a rotation of a token already rotated writes nothing', async () => {
    const { grant, first } = await issuedGrant();
    const tokens = new SqlTokenStore(suite.storage.db);
    assert.equal(await tokens.rotateRefreshToken(first.refresh.hash, tokensFor(grant.id, first.refresh.hash), []), true);
    const late = tokensFor(grant.id, first.refresh.hash);
    const before = (await new SqlAuditCheckpoints(suite.storage.db).auditHead())?.seq;
    assert.equal(await tokens.rotateRefreshToken(first.refresh.hash, late, [{ type: 'token.refreshed', at: NOW, grantId: grant.id, data: {} }]), false);
    assert.equal(await tokens.findRefreshToken(late.refresh.hash), undefined);
    assert.equal((await new SqlAuditCheckpoints(suite.storage.db).auditHead())?.seq, before, 'no event for a rotation that lost');
  });

  test('a redemption without a refresh token or a proof is the claim alone, in the same one statement', async () => {
    const a = pendingAuthorization(ctx);
    assert.equal(await suite.storage.deviceAuthorizations.create(a, []), true);
    const grant = grantFor(a);
    assert.equal(await suite.storage.deviceAuthorizations.approve(a.id, NOW + 1, ctx, grant, [{ type: 'device.approved', at: NOW, grantId: grant.id, data: {} }]), true);
    const { access } = tokensFor(grant.id);
    const issued: AuditEventInput = { type: 'token.issued', at: NOW, grantId: grant.id, parent: { type: 'device.approved', grantId: grant.id }, data: {} };
    const store = new SqlDeviceAuthorizationStore(logged);
    statements.length = 0;
    assert.equal(await store.redeem(a.id, { access }, null, [issued]), true);
    assert.equal(statements.length, 5, statements.join(' | '));
    assert.match(statements[1]!, /^\s*with claimed as \(\s*update device_authorizations[^]*\)\s*select count\(\*\) as n from claimed\s*$/);
    assert.equal((await suite.storage.deviceAuthorizations.findById(a.id))?.status, 'redeemed');
    const refreshRows = await suite.storage.db.selectFrom('refresh_tokens').select('hash').where('grant_id', '=', grant.id).execute();
    assert.deepEqual(refreshRows, []);
    assert.equal(await store.redeem(a.id, { access }, null, [issued]), false, 'still single use');
  });

  test('a redemption: the claim, the key binding and the refresh token in one statement; a second claim writes nothing', async () => {
    const a = pendingAuthorization(ctx);
    assert.equal(await suite.storage.deviceAuthorizations.create(a, []), true);
    const grant = grantFor(a);
    assert.equal(await suite.storage.deviceAuthorizations.approve(a.id, NOW + 1, ctx, grant, [{ type: 'device.approved', at: NOW, grantId: grant.id, data: {} }]), true);
    const tokens = tokensFor(grant.id);
    const issued: AuditEventInput = { type: 'token.issued', at: NOW, grantId: grant.id, parent: { type: 'device.approved', grantId: grant.id }, data: {} };
    const store = new SqlDeviceAuthorizationStore(logged);
    statements.length = 0;
    assert.equal(await store.redeem(a.id, tokens, 'jkt-of-the-device', [issued]), true);
    assert.equal(statements.length, 5, statements.join(' | '));
    assert.match(statements[1]!, /^\s*with claimed as \(\s*update device_authorizations/);
    assert.match(statements[1]!, /bound as \(update grants/);

    assert.equal((await suite.storage.deviceAuthorizations.findById(a.id))?.status, 'redeemed');
    assert.equal((await new SqlGrantStore(suite.storage.db).findGrant(grant.id))?.dpopJkt, 'jkt-of-the-device');
    const tokenStore = new SqlTokenStore(suite.storage.db);
    assert.equal(await accessTokenRows(), 0, 'access tokens are not stored');
    assert.deepEqual(await tokenStore.findRefreshToken(tokens.refresh.hash), { ...tokens.refresh, status: 'active' });
    const [approvedEvent, issuedEvent] = await suite.storage.audit.query({ grantId: grant.id });
    assert.equal(issuedEvent?.parentId, approvedEvent?.id);

    // The code is used: a second redemption (another key, other tokens) changes nothing.
    const again = tokensFor(grant.id);
    assert.equal(await store.redeem(a.id, again, 'jkt-of-a-thief', [issued]), false);
    assert.equal(await tokenStore.findRefreshToken(again.refresh.hash), undefined);
    assert.equal((await new SqlGrantStore(suite.storage.db).findGrant(grant.id))?.dpopJkt, 'jkt-of-the-device');
    assert.equal((await suite.storage.audit.query({ grantId: grant.id })).length, 2);
  });
});
