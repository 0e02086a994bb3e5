import type { Kysely } from 'kysely';

/**
 * Enterprise sign-in (docs/sign-in.md): how a browser session signed in (for policy), the single-use sign-in
 * ceremonies (an upstream provider's state, nonce and PKCE verifier; a passkey challenge), the people an upstream
 * provider brought in, and the passkeys of local accounts. Dialect-neutral, like 0001.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // JSON: method, mfa, phishingResistant, acr, amr. Null for sessions from before (read as a password sign-in).
  await db.schema.alterTable('browser_sessions').addColumn('auth_context', 'text').execute();
  // The same, kept with the grant its approval created: policy reads it again at issuance and refresh.
  await db.schema.alterTable('grants').addColumn('auth_context', 'text').execute();

  // Keyed by the hash of the `state` (or WebAuthn challenge), bound to the hash of the browser session id, consumed
  // once; `data` is sealed under a key derived from the state itself.
  await db.schema
    .createTable('sign_in_ceremonies')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('session_hash', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();

  // Just-in-time provisioned people; the SCIM store may take these over (src/storage/upstream-users.ts).
  await db.schema
    .createTable('upstream_users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('email', 'text')
    .addColumn('groups', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('upstream_users_provider_subject').unique().on('upstream_users').columns(['provider', 'subject']).execute();

  // WebAuthn credentials. The public key is not secret and must be read back to verify, so it is stored as is.
  await db.schema
    .createTable('passkeys')
    .addColumn('credential_id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('counter', 'bigint', (c) => c.notNull())
    .addColumn('transports', 'text', (c) => c.notNull())
    .addColumn('device_type', 'text', (c) => c.notNull())
    .addColumn('backed_up', 'integer', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .execute();
  await db.schema.createIndex('passkeys_user_id').on('passkeys').column('user_id').execute();
}
