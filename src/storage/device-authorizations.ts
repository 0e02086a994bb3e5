import type { Kysely, Selectable, Transaction } from 'kysely';
import type { DeviceAuthorization, DeviceAuthorizationStore } from '../device-flow/device-authorization.js';
import type { RequestOrigin } from '../oauth/request-origin.js';
import type { Grant } from '../grants/grant.js';
import { authenticationJson } from './authentication-json.js';
import type { IssuedTokens } from '../tokens/token-store.js';
import type { Database, DeviceAuthorizationTable } from './schema.js';
import { insertIssuedTokens } from './tokens.js';
import { appendAuditEvents } from './audit-log.js';
import { engineOf, type Engine } from './dialect.js';
import { redeemAtOnce } from './postgres-token-writes.js';
import type { AuditEventInput } from '../audit/event.js';

const toList = (text: string) => (text === '' ? [] : text.split(' '));

export function deviceAuthorizationFromRow(row: Selectable<DeviceAuthorizationTable>): DeviceAuthorization {
  return {
    id: row.id,
    deviceCodeHash: row.device_code_hash,
    userCode: row.user_code,
    clientId: row.client_id,
    scopes: toList(row.scope),
    resource: row.resource,
    requester: { ip: row.requester_ip, userAgent: row.requester_user_agent },
    dpopJkt: row.dpop_jkt,
    deviceJkt: row.device_jkt ?? null,
    environment: row.environment,
    interval: Number(row.interval),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    status: row.status,
    decidedAt: row.decided_at === null ? null : Number(row.decided_at),
    approverUserId: row.approver_user_id,
    approver:
      row.approver_ip === null ? null : { ip: row.approver_ip, userAgent: row.approver_user_agent ?? '' },
    grantId: row.grant_id,
  };
}

/** A new request as its row (undecided, so every decision column is empty). */
export function deviceAuthorizationRow(a: DeviceAuthorization): DeviceAuthorizationTable {
  return {
    id: a.id,
    device_code_hash: a.deviceCodeHash,
    user_code: a.userCode,
    client_id: a.clientId,
    scope: a.scopes.join(' '),
    resource: a.resource,
    requester_ip: a.requester.ip,
    requester_user_agent: a.requester.userAgent,
    dpop_jkt: a.dpopJkt,
    device_jkt: a.deviceJkt,
    environment: a.environment,
    interval: a.interval,
    created_at: a.createdAt,
    expires_at: a.expiresAt,
    status: a.status,
    decided_at: null,
    approver_user_id: null,
    approver_ip: null,
    approver_user_agent: null,
    grant_id: null,
  };
}

export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/** Claims the approved code `id`, binds its grant to `dpopJkt` (when a proof came) and inserts `tokens`. */
async function redeemStepByStep(tx: Transaction<Database>, id: string, tokens: IssuedTokens, dpopJkt: string | null): Promise<boolean> {
  const result = await tx
    .updateTable('device_authorizations')
    .set({ status: 'redeemed' })
    .where('id', '=', id)
    .where('status', '=', 'approved')
    .executeTakeFirst();
  if (result.numUpdatedRows !== 1n) return false;
  if (dpopJkt !== null) await tx.updateTable('grants').set({ dpop_jkt: dpopJkt }).where('id', '=', tokens.access.grantId).execute();
  await insertIssuedTokens(tx, tokens);
  return true;
}

export class SqlDeviceAuthorizationStore implements DeviceAuthorizationStore {
  private readonly engine: Engine;

  constructor(private readonly db: Kysely<Database>) {
    this.engine = engineOf(db);
  }

  async create(a: DeviceAuthorization, events: AuditEventInput[]): Promise<boolean> {
    try {
      await this.db.transaction().execute(async (tx) => {
        await tx.insertInto('device_authorizations').values(deviceAuthorizationRow(a)).execute();
        await appendAuditEvents(tx, events);
      });
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async findByLegacyDeviceCodeHash(hash: string): Promise<DeviceAuthorization | undefined> {
    const row = await this.db
      .selectFrom('legacy_device_codes')
      .innerJoin('device_authorizations', 'device_authorizations.id', 'legacy_device_codes.device_authorization_id')
      .selectAll('device_authorizations')
      .where('legacy_device_codes.device_code_hash', '=', hash)
      .executeTakeFirst();
    return row && deviceAuthorizationFromRow(row);
  }

  async findById(id: string): Promise<DeviceAuthorization | undefined> {
    const row = await this.db.selectFrom('device_authorizations').selectAll().where('id', '=', id).executeTakeFirst();
    return row && deviceAuthorizationFromRow(row);
  }

  async findByUserCode(userCode: string): Promise<DeviceAuthorization | undefined> {
    const row = await this.db
      .selectFrom('device_authorizations')
      .selectAll()
      .where('user_code', '=', userCode)
      .executeTakeFirst();
    return row && deviceAuthorizationFromRow(row);
  }

  async approve(id: string, now: number, approver: RequestOrigin, grant: Grant, events: AuditEventInput[]): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const result = await tx
        .updateTable('device_authorizations')
        .set({
          status: 'approved',
          decided_at: now,
          approver_user_id: grant.userId,
          approver_ip: approver.ip,
          approver_user_agent: approver.userAgent,
          grant_id: grant.id,
        })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (result.numUpdatedRows !== 1n) return false;
      await tx
        .insertInto('grants')
        .values({
          id: grant.id,
          user_id: grant.userId,
          client_id: grant.clientId,
          device_authorization_id: grant.deviceAuthorizationId,
          scope: grant.scopes.join(' '),
          resource: grant.resource,
          dpop_jkt: grant.dpopJkt,
          device_jkt: grant.deviceJkt,
          environment: grant.environment,
          auth_time: grant.authTime,
          auth_context: grant.authentication ? authenticationJson(grant.authentication) : null,
          created_at: grant.createdAt,
          expires_at: grant.expiresAt,
          idle_ttl: grant.idleTtl,
          last_used_at: grant.createdAt,
          status: 'active',
          revoked_at: null,
          revoked_by: null,
          revoked_reason: null,
        })
        .execute();
      await appendAuditEvents(tx, events);
      return true;
    });
  }

  async deny(id: string, now: number, approverUserId: string, approver: RequestOrigin, events: AuditEventInput[]): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const result = await tx
        .updateTable('device_authorizations')
        .set({
          status: 'denied',
          decided_at: now,
          approver_user_id: approverUserId,
          approver_ip: approver.ip,
          approver_user_agent: approver.userAgent,
        })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (result.numUpdatedRows !== 1n) return false;
      await appendAuditEvents(tx, events);
      return true;
    });
  }

  async abandon(id: string, now: number, events: AuditEventInput[]): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('device_authorizations').select(['grant_id']).where('id', '=', id).executeTakeFirst();
      const result = await tx
        .updateTable('device_authorizations')
        .set({ status: 'abandoned', decided_at: now })
        .where('id', '=', id)
        .where('status', 'in', ['pending', 'approved'])
        .executeTakeFirst();
      if (result.numUpdatedRows !== 1n) return false;
      // Approved a moment before the device gave up: the grant exists but no token does; it must not outlive this.
      if (row?.grant_id) {
        await tx
          .updateTable('grants')
          .set({ status: 'revoked', revoked_at: now, revoked_by: 'device', revoked_reason: 'device abandoned the request' })
          .where('id', '=', row.grant_id)
          .where('status', '=', 'active')
          .execute();
      }
      await appendAuditEvents(tx, events);
      return true;
    });
  }

  async redeem(id: string, tokens: IssuedTokens, dpopJkt: string | null, events: AuditEventInput[]): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      // PostgreSQL: the claim and its writes in one statement (postgres-token-writes.ts).
      const claimed = this.engine === 'postgres' ? await redeemAtOnce(tx, id, tokens, dpopJkt) : await redeemStepByStep(tx, id, tokens, dpopJkt);
      if (claimed) await appendAuditEvents(tx, events);
      return claimed;
    });
  }

  async countLive(now: number, of: { clientId?: string; requesterIp?: string } = {}): Promise<number> {
    let query = this.db
      .selectFrom('device_authorizations')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', 'pending')
      .where('expires_at', '>', now);
    if (of.clientId !== undefined) query = query.where('client_id', '=', of.clientId);
    if (of.requesterIp !== undefined) query = query.where('requester_ip', '=', of.requesterIp);
    const row = await query.executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async deleteExpired(before: number): Promise<number> {
    // Codes from before migration 0008 go once expired (or swept): the table only shrinks, to empty in minutes.
    await this.db
      .deleteFrom('legacy_device_codes')
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('device_authorizations')
              .select('device_authorizations.id')
              .whereRef('device_authorizations.id', '=', 'legacy_device_codes.device_authorization_id')
              .where('device_authorizations.expires_at', '>=', before),
          ),
        ),
      )
      .execute();
    // Only codes nobody acted on: approved and redeemed ones are the provenance of a grant and stay.
    const result = await this.db
      .deleteFrom('device_authorizations')
      .where('expires_at', '<', before)
      .where('status', 'in', ['pending', 'denied', 'abandoned'])
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
