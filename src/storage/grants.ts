import type { Kysely, Selectable } from 'kysely';
import type { GrantRecord, GrantStore } from '../grants/grant.js';
import type { RevocationStatement, RevocationStore, RevokedGrant } from '../revocation/statement.js';
import type { AuditEventInput } from '../audit/event.js';
import { appendAuditEvents, lockAuditHead } from './audit-log.js';
import { authenticationOf } from './authentication-json.js';
import type { Database, GrantTable, RevocationTable } from './schema.js';

export function grantFromRow(r: Selectable<GrantTable>): GrantRecord {
  return {
    id: r.id,
    userId: r.user_id,
    clientId: r.client_id,
    deviceAuthorizationId: r.device_authorization_id,
    scopes: r.scope === '' ? [] : r.scope.split(' '),
    resource: r.resource,
    dpopJkt: r.dpop_jkt,
    deviceJkt: r.device_jkt ?? null,
    environment: r.environment,
    authTime: Number(r.auth_time),
    authentication: authenticationOf(r.auth_context),
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    idleTtl: Number(r.idle_ttl),
    status: r.status,
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    revokedBy: r.revoked_by,
    revokedReason: r.revoked_reason,
  };
}

const COLUMN = { grant: 'id', user: 'user_id', jkt: 'dpop_jkt', client: 'client_id' } as const;

export class SqlGrantStore implements GrantStore, RevocationStore {
  constructor(private readonly db: Kysely<Database>) {}

  async findGrant(id: string): Promise<GrantRecord | undefined> {
    const row = await this.db.selectFrom('grants').selectAll().where('id', '=', id).executeTakeFirst();
    return row && grantFromRow(row);
  }

  async applyRevocation(s: RevocationStatement, describe: (grants: RevokedGrant[]) => AuditEventInput[], cut?: () => number): Promise<string[]> {
    return this.db.transaction().execute(async (tx) => {
      if (cut) {
        s.issuedBeforeMs = cut();
        s.issuedBefore = Math.floor(s.issuedBeforeMs / 1000);
      }
      let query = tx
        .selectFrom('grants')
        .select(['id', 'user_id', 'client_id', 'dpop_jkt'])
        .where('status', '=', 'active')
        .where('created_at', '<=', s.issuedBefore);
      if (s.kind !== 'all' && s.kind !== 'workload' && s.kind !== 'owner') query = query.where(COLUMN[s.kind], '=', s.value ?? '');
      // A workload statement covers workload tokens only, which belong to no grant; a tokens-only one ends none.
      const rows = s.tokensOnly || s.kind === 'workload' || s.kind === 'owner' ? [] : await query.execute();
      const ids = rows.map((r) => r.id);
      if (ids.length > 0) {
        // Refresh tokens before grants: the order a rotation takes the same rows in, so a revocation and a
        // refresh of one grant on two PostgreSQL connections wait for each other instead of deadlocking.
        await tx
          .updateTable('refresh_tokens')
          .set({ status: 'revoked' })
          .where('grant_id', 'in', ids)
          .where('status', '=', 'active')
          .execute();
        await tx
          .updateTable('grants')
          .set({ status: 'revoked', revoked_at: s.createdAt, revoked_by: s.actor, revoked_reason: s.reason })
          .where('id', 'in', ids)
          .execute();
      }
      // The next stream position, taken under the audit chain's lock (held to commit): revocations from every
      // instance get distinct positions, and commit in position order, so a reader resuming after N misses none.
      await lockAuditHead(tx);
      const last = await tx.selectFrom('revocations').select((eb) => eb.fn.max<number>('seq').as('seq')).executeTakeFirst();
      s.seq = Number(last?.seq ?? 0) + 1;
      await tx
        .insertInto('revocations')
        .values({
          id: s.id,
          seq: s.seq,
          kind: s.kind,
          value: s.value,
          issued_before: s.issuedBefore,
          issued_before_ms: s.issuedBeforeMs,
          created_at: s.createdAt,
          actor: s.actor,
          reason: s.reason,
          via: s.via,
          grants_revoked: ids.length,
        })
        .execute();
      await appendAuditEvents(tx, describe(rows.map((r) => ({ id: r.id, userId: r.user_id, clientId: r.client_id, jkt: r.dpop_jkt }))));
      return ids;
    });
  }

  async listRevocations(since: number) {
    const rows = await this.db
      .selectFrom('revocations')
      .selectAll()
      .where('created_at', '>=', since)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({
      ...statementFromRow(r),
      grantsRevoked: Number(r.grants_revoked),
    }));
  }

  /** The stream position of the latest revocation (0 when none). */
  async lastRevocationSeq(): Promise<number> {
    const row = await this.db.selectFrom('revocations').select((eb) => eb.fn.max<number>('seq').as('seq')).executeTakeFirst();
    return Number(row?.seq ?? 0);
  }

  async revocationsAfter(seq: number, limit: number): Promise<RevocationStatement[]> {
    const rows = await this.db.selectFrom('revocations').selectAll().where('seq', '>', seq).orderBy('seq').limit(limit).execute();
    return rows.map(statementFromRow);
  }
}

function statementFromRow(r: Selectable<RevocationTable>): RevocationStatement {
  return {
    id: r.id,
    seq: Number(r.seq),
    kind: r.kind,
    value: r.value,
    issuedBefore: Number(r.issued_before),
    issuedBeforeMs: r.issued_before_ms === null ? Number(r.issued_before) * 1000 + 999 : Number(r.issued_before_ms),
    createdAt: Number(r.created_at),
    actor: r.actor,
    reason: r.reason,
    via: r.via as RevocationStatement['via'],
  };
}
