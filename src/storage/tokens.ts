import type { Expression, ExpressionBuilder, Kysely, Selectable, SqlBool, Transaction } from 'kysely';
import type { IssuedRefreshToken, IssuedTokens, PruningStep, RefreshTokenPruning, StoredRefreshToken, TokenStore } from '../tokens/token-store.js';
import type { Database, RefreshTokenTable } from './schema.js';
import type { AuditEventInput } from '../audit/event.js';
import { appendAuditEvents } from './audit-log.js';
import { engineOf, type Engine } from './dialect.js';
import { rotateAtOnce } from './postgres-token-writes.js';
import { SqlSettings } from './settings.js';

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

/**
 * Records what storage keeps of one issuance inside the caller's transaction: the refresh token, if any. The access
 * token is not stored (see IssuedAccessToken).
 */
export async function insertIssuedTokens(tx: Transaction<Database>, tokens: IssuedTokens): Promise<void> {
  if (tokens.refresh) await insertRefreshToken(tx, tokens.refresh);
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

/** The settings row that remembers the last grant {@link SqlTokenStore.pruneEndedGrants} passed: "end id". */
const PRUNED_THROUGH = 'refresh_tokens.pruned_through_grant';

/** A place in the order grants end in: by `expires_at`, then by id among grants that end in the same second. */
interface GrantPosition {
  end: number;
  id: string;
}

function positionOf(stored: string | undefined): GrantPosition {
  const [end, id] = stored?.split(' ') ?? [];
  return end && id && /^\d+$/.test(end) ? { end: Number(end), id } : { end: -1, id: '' };
}

/**
 * Grants after `p` in that order. `expires_at >= end` lets both engines start the index range there; the rest picks
 * the grants of that same second that come after `p.id`.
 */
function after(eb: ExpressionBuilder<Database, 'grants'>, p: GrantPosition): Expression<SqlBool> {
  return eb.and([eb('expires_at', '>=', p.end), eb.or([eb('expires_at', '>', p.end), eb('id', '>', p.id)])]);
}

export class SqlTokenStore implements TokenStore, RefreshTokenPruning {
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
      // PostgreSQL: the retirement and the new refresh token in one statement (postgres-token-writes.ts).
      const rotated = this.engine === 'postgres' ? await rotateAtOnce(tx, oldHash, next) : await rotateStepByStep(tx, oldHash, next);
      if (rotated) await appendAuditEvents(tx, events);
      return rotated;
    });
  }

  async pruneEndedGrants(endedBefore: number, limit: number): Promise<PruningStep> {
    // Grants in the order they end (index grants_by_end, migration 0011), from the position the last step stopped
    // at: an end never changes once written, so every grant is passed once, whatever its id or lifetime.
    const from = positionOf(await new SqlSettings(this.db).get(PRUNED_THROUGH));
    const next = await this.db
      .selectFrom('grants')
      .select(['id', 'expires_at'])
      .where((eb) => after(eb, from))
      .where('expires_at', '<', endedBefore)
      .orderBy('expires_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    const last = next.at(-1);
    if (!last) return { grants: 0, refreshTokens: 0, more: false };
    const deleted = await this.db.transaction().execute(async (tx) => {
      const result = await tx
        .deleteFrom('refresh_tokens')
        .where('grant_id', 'in', next.map((g) => g.id))
        .executeTakeFirst();
      // Two instances pruning at once delete the same rows and write the same or a nearby position: both harmless.
      await new SqlSettings(tx).set(PRUNED_THROUGH, `${Number(last.expires_at)} ${last.id}`);
      return Number(result.numDeletedRows);
    });
    return { grants: next.length, refreshTokens: deleted, more: next.length === limit };
  }

  async pruneLegacyAccessTokens(before: number, limit: number): Promise<number> {
    const result = await this.db
      .deleteFrom('access_tokens')
      .where('jti', 'in', (eb) => eb.selectFrom('access_tokens').select('jti').where('expires_at', '<', before).limit(limit))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
