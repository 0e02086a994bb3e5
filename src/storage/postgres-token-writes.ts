import { sql, type Transaction } from 'kysely';
import type { IssuedTokens } from '../tokens/token-store.js';
import type { Database } from './schema.js';

/**
 * The writes of a redemption and of a refresh rotation on PostgreSQL, each as one statement (data-modifying common
 * table expressions, which SQLite does not have). Every statement is a round trip to the server, paid while the
 * transaction holds its locks: a rotation was three (retire the old refresh token, insert the access token, insert
 * the new refresh token), a redemption up to four (claim the code, bind the grant to the key, the two tokens). The
 * claim stays the conditional update it was, so single use is still decided by the database: the other writes take
 * their rows from the claim's `returning`, and a claim that finds nothing to claim writes nothing.
 */

/**
 * Retires the active refresh token `oldHash` and inserts `next`. True when it was retired here; false when it was
 * not active (used, revoked, unknown, or retired a moment ago by a concurrent use that held its row).
 */
export async function rotateAtOnce(tx: Transaction<Database>, oldHash: string, next: Required<IssuedTokens>): Promise<boolean> {
  const result = await sql<{ n: number }>`
    with claimed as (
      update refresh_tokens set status = 'rotated' where hash = ${oldHash} and status = 'active' returning hash
    ), ${insertsPerClaim(next)}
    select count(*) as n from claimed`.execute(tx);
  return Number(result.rows[0]?.n ?? 0) === 1;
}

/**
 * Claims the approved device authorization `id` (approved → redeemed), binds the grant to `dpopJkt` when the
 * redemption had a proof, and inserts `tokens`. True when it was claimed here.
 */
export async function redeemAtOnce(tx: Transaction<Database>, id: string, tokens: IssuedTokens, dpopJkt: string | null): Promise<boolean> {
  const bind =
    dpopJkt === null
      ? sql``
      : sql`bound as (update grants set dpop_jkt = ${dpopJkt} where id = ${tokens.access.grantId} and exists (select 1 from claimed)),`;
  const result = await sql<{ n: number }>`
    with claimed as (
      update device_authorizations set status = 'redeemed' where id = ${id} and status = 'approved' returning id
    ), ${bind} ${insertsPerClaim(tokens)}
    select count(*) as n from claimed`.execute(tx);
  return Number(result.rows[0]?.n ?? 0) === 1;
}

/** The common table expressions that insert `tokens` once per row of `claimed` (at most one row). */
function insertsPerClaim(tokens: IssuedTokens) {
  const { access, refresh } = tokens;
  // Parameters in a select list have no column to take a type from: the bigints are cast, the texts default.
  const accessInsert = sql`access as (
      insert into access_tokens (jti, grant_id, issued_at, expires_at)
      select ${access.jti}, ${access.grantId}, ${access.issuedAt}::bigint, ${access.expiresAt}::bigint from claimed
    )`;
  if (!refresh) return accessInsert;
  return sql`${accessInsert}, refresh as (
      insert into refresh_tokens (hash, grant_id, parent_hash, issued_at, expires_at, status)
      select ${refresh.hash}, ${refresh.grantId}, ${refresh.parentHash}, ${refresh.issuedAt}::bigint, ${refresh.expiresAt}::bigint, 'active'
      from claimed
    )`;
}
