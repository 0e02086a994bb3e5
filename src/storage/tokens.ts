import type { Kysely, Selectable, Transaction } from 'kysely';
import type { IssuedAccessToken, IssuedRefreshToken, IssuedTokens, StoredRefreshToken, TokenStore } from '../tokens/token-store.js';
import type { AccessTokenTable, Database, RefreshTokenTable } from './schema.js';
import type { AuditEventInput } from '../audit/event.js';
import { appendAuditEvents } from './audit-log.js';
import { engineOf, type Engine } from './dialect.js';
import { rotateAtOnce } from './postgres-token-writes.js';

/** A stored refresh token row as the token store answers it (both engines read the same columns). */
export function refreshTokenFromRow(r: Selectable<RefreshTokenTable>): StoredRefreshToken {
  return {
    hash: r.hash,
    grantId: r.grant_id,
    parentHash: r.parent_hash,
    issuedAt: Number(r.issued_at),
    expiresAt: Number(r.expires_at),
    status: r.status,
  };
}

/** A stored access token row as the token store answers it. */
export function accessTokenFromRow(r: Selectable<AccessTokenTable>): IssuedAccessToken {
  return { jti: r.jti, grantId: r.grant_id, issuedAt: Number(r.issued_at), expiresAt: Number(r.expires_at) };
}

/** Inserts the tokens of one issuance inside the caller's transaction. */
export async function insertIssuedTokens(tx: Transaction<Database>, tokens: IssuedTokens): Promise<void> {
  const { access, refresh } = tokens;
  await tx
    .insertInto('access_tokens')
    .values({ jti: access.jti, grant_id: access.grantId, issued_at: access.issuedAt, expires_at: access.expiresAt })
    .execute();
  if (refresh) await insertRefreshToken(tx, refresh);
}

async function insertRefreshToken(tx: Transaction<Database>, r: IssuedRefreshToken): Promise<void> {
  await tx
    .insertInto('refresh_tokens')
    .values({
      hash: r.hash,
      grant_id: r.grantId,
      parent_hash: r.parentHash,
      issued_at: r.issuedAt,
      expires_at: r.expiresAt,
      status: 'active',
    })
    .execute();
}

/** Retires the active refresh token `oldHash` and inserts `next`; false when it was not active. */
async function rotateStepByStep(tx: Transaction<Database>, oldHash: string, next: Required<IssuedTokens>): Promise<boolean> {
  const result = await tx
    .updateTable('refresh_tokens')
    .set({ status: 'rotated' })
    .where('hash', '=', oldHash)
    .where('status', '=', 'active')
    .executeTakeFirst();
  if (result.numUpdatedRows !== 1n) return false;
  await insertIssuedTokens(tx, next);
  return true;
}

export class SqlTokenStore implements TokenStore {
  private readonly engine: Engine;

  constructor(private readonly db: Kysely<Database>) {
    this.engine = engineOf(db);
  }

  async findRefreshToken(hash: string): Promise<StoredRefreshToken | undefined> {
    const r = await this.db.selectFrom('refresh_tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    return r && refreshTokenFromRow(r);
  }

  async rotateRefreshToken(oldHash: string, next: Required<IssuedTokens>, events: AuditEventInput[]): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      // PostgreSQL: the retirement and the new tokens in one statement (postgres-token-writes.ts).
      const rotated = this.engine === 'postgres' ? await rotateAtOnce(tx, oldHash, next) : await rotateStepByStep(tx, oldHash, next);
      if (rotated) await appendAuditEvents(tx, events);
      return rotated;
    });
  }

  async findAccessToken(jti: string): Promise<IssuedAccessToken | undefined> {
    const r = await this.db.selectFrom('access_tokens').selectAll().where('jti', '=', jti).executeTakeFirst();
    return r && accessTokenFromRow(r);
  }
}
