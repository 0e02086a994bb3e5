import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Small named values the server keeps across restarts (e.g. the CSRF key, the dev password's hash). */
export class SqlSettings {
  constructor(private readonly db: Kysely<Database>) {}

  async get(key: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value;
  }

  async set(key: string, value: string): Promise<void> {
    await this.db
      .insertInto('settings')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }

  /**
   * The stored value, or `make()`'s result stored now. Several instances starting at once on one database all
   * end up with the same value: only the first insert lands, and everyone reads back what is stored.
   */
  async getOrCreate(key: string, make: () => string): Promise<string> {
    const existing = await this.get(key);
    if (existing !== undefined) return existing;
    await this.db
      .insertInto('settings')
      .values({ key, value: make() })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    const stored = await this.get(key);
    if (stored === undefined) throw new Error(`setting ${key} could not be stored`);
    return stored;
  }
}
