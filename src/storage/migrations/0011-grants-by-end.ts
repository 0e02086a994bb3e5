import type { Kysely } from 'kysely';

// The retention sweep (tokens/refresh-token-retention.ts) walks grants in the order they end, from where it last
// stopped: this index is that order. A grant's end (`expires_at`) is written once, at approval, and never changes,
// so a remembered position is never overtaken. It costs one B-tree insert per approval, none per token.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('grants_by_end').ifNotExists().on('grants').columns(['expires_at', 'id']).execute();
}
