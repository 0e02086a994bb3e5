import type { Kysely } from 'kysely';

// access_tokens(grant_id) served no query: an access token is found by its jti (introspection, RFC 7009), and a
// revocation ends a grant's access tokens through the grant's status, never by listing them. Kept up to date on
// every issuance and refresh it was one random index page per token response written to the WAL (a third of a
// rotation's), for nothing. An instance of the older version still running during a rolling upgrade never read it
// either.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('access_tokens_grant_id').ifExists().execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('access_tokens_grant_id').ifNotExists().on('access_tokens').column('grant_id').execute();
}
