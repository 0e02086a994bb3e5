import { sql, type Transaction } from 'kysely';
import type { IssuedTokens } from '../tokens/token-store.js';
import type { Database } from './schema.js';

/**
 * The writes of a redemption and of a refresh rotation on PostgreSQL, each as one statement (data-modifying common
 * table expressions, which SQLite does not have). Every statement is a round trip to the server, paid while the
 * transaction holds its locks: a rotation was two (retire the old refresh token, insert the new one), a redemption
 * up to three (claim the code, bind the grant to the key, the refresh token). The claim stays the conditional update
 * it was, so single use is still decided by the database: the other writes take their rows from the claim's
 * `returning`, and a claim that finds nothing to claim writes nothing.
 */

/**
 * Retires the active refresh token `oldHash` and inserts `next`. True when it was retired here; false when it was
 * not active (used, revoked, unknown, or retired a moment ago by a concurrent use that held its row).
 */
export async function rotateAtOnce(tx: Transaction<Database>, oldHash: string, next: Required<IssuedTokens>): Promise<boolean> {
  const claim = sql`claimed as (
      update refresh_tokens set status = 'rotated' where hash = ${oldHash} and status = 'active' returning hash
    )`;
  const result = await sql<{ n: number }>`
    with ${sql.join([claim, ...insertsPerClaim(next)])}
    select count(*) as n from claimed`.execute(tx);
  return Number(result.rows[0]?.n ?? 0) === 1;
}

/**
 * Claims the approved device authorization `id` (approved → redeemed), binds the grant to `dpopJkt` when the
 * redemption had a proof, and inserts `tokens`. True when it was claimed here.
 */
export async function redeemAtOnce(tx: Transaction<Database>, id: string, tokens: IssuedTokens, dpopJkt: string | null): Promise<boolean> {
  const claim = sql`claimed as (
      update device_authorizations set status = 'redeemed' where id = ${id} and status = 'approved' returning id
    )`;
  const bind = sql`bound as (update grants set dpop_jkt = ${dpopJkt} where id = ${tokens.access.grantId} and exists (select 1 from claimed))`;
  const result = await sql<{ n: number }>`
    with ${sql.join([claim, ...(dpopJkt === null ? [] : [bind]), ...insertsPerClaim(tokens)])}
    select count(*) as n from claimed`.execute(tx);
  return Number(result.rows[0]?.n ?? 0) === 1;
}

/**
 * The common table expressions that insert what is stored of `tokens` (the refresh token; the access token is not
 * stored, see IssuedAccessToken) once per row of `claimed` (at most one row).
 */
function insertsPerClaim({ refresh }: IssuedTokens) {
  if (!refresh) return [];
  // Parameters in a select list have no column to take a type from: the bigints are cast, the texts default.
  return [
    sql`refresh as (
      insert into refresh_tokens (hash, grant_id, parent_hash, issued_at, expires_at, status)
      select ${refresh.hash}, ${refresh.grantId}, ${refresh.parentHash}, ${refresh.issuedAt}::bigint, ${refresh.expiresAt}::bigint, 'active'
      from claimed
    )`,
  ];
}
