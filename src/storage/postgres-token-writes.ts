import { sql, type Transaction } from 'kysely';
import type { IssuedTokens } from '../tokens/token-store.js';
import type { Database } from './schema.js';

/**
 * The token writes of an issuance and a rotation on PostgreSQL, each as one statement (data-modifying common
 * table expressions, which SQLite does not have). Every statement is a round trip to the server; a rotation was
 * three (retire the old refresh token, insert the access token, insert the new refresh token) and an issuance
 * two, each while the transaction holds its locks.
 */

/** Inserts the access token and, when there is one, the refresh token of one issuance. */
export async function insertIssuedTokensAtOnce(tx: Transaction<Database>, tokens: IssuedTokens): Promise<void> {
  const { access, refresh } = tokens;
  const accessRow = { jti: access.jti, grant_id: access.grantId, issued_at: access.issuedAt, expires_at: access.expiresAt };
  if (!refresh) {
    await tx.insertInto('access_tokens').values(accessRow).execute();
    return;
  }
  await tx
    .with('access', (db) => db.insertInto('access_tokens').values(accessRow))
    .insertInto('refresh_tokens')
    .values({
      hash: refresh.hash,
      grant_id: refresh.grantId,
      parent_hash: refresh.parentHash,
      issued_at: refresh.issuedAt,
      expires_at: refresh.expiresAt,
      status: 'active',
    })
    .execute();
}

/**
 * Retires the active refresh token `oldHash` and inserts `next`, in one statement: the inserts take their rows
 * from the retirement's, so when the old token was not active (used, revoked, unknown, or retired a moment ago
 * by a concurrent use that holds its row) nothing is written. True when it was retired here.
 */
export async function rotateAtOnce(tx: Transaction<Database>, oldHash: string, next: Required<IssuedTokens>): Promise<boolean> {
  const { access, refresh } = next;
  // Parameters in a select list have no column to take a type from: the bigints are cast, the texts default.
  const result = await sql<{ rotated: number }>`
    with rotated as (
      update refresh_tokens set status = 'rotated' where hash = ${oldHash} and status = 'active' returning hash
    ), access as (
      insert into access_tokens (jti, grant_id, issued_at, expires_at)
      select ${access.jti}, ${access.grantId}, ${access.issuedAt}::bigint, ${access.expiresAt}::bigint from rotated
    ), refresh as (
      insert into refresh_tokens (hash, grant_id, parent_hash, issued_at, expires_at, status)
      select ${refresh.hash}, ${refresh.grantId}, ${refresh.parentHash}, ${refresh.issuedAt}::bigint, ${refresh.expiresAt}::bigint, 'active'
      from rotated
    )
    select count(*) as rotated from rotated`.execute(tx);
  return Number(result.rows[0]?.rotated ?? 0) === 1;
}
