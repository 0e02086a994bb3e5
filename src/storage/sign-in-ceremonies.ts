import type { Kysely } from 'kysely';
import type { CeremonyKind, SignInCeremonyStore, StoredCeremony } from '../verification/sign-in-ceremony.js';
import type { Database } from './schema.js';

export class SqlSignInCeremonyStore implements SignInCeremonyStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insertCeremony(c: StoredCeremony): Promise<void> {
    await this.db
      .insertInto('sign_in_ceremonies')
      .values({ id_hash: c.idHash, session_hash: c.sessionHash, kind: c.kind, data: c.sealed, expires_at: c.expiresAt })
      .execute();
  }

  async takeCeremony(idHash: string, sessionHash: string, kind: CeremonyKind, now: number): Promise<string | undefined> {
    // One statement: two requests with the same handle cannot both get it back.
    const row = await this.db
      .deleteFrom('sign_in_ceremonies')
      .where('id_hash', '=', idHash)
      .where('session_hash', '=', sessionHash)
      .where('kind', '=', kind)
      .where('expires_at', '>', now)
      .returning('data')
      .executeTakeFirst();
    return row?.data;
  }

  async deleteExpiredCeremonies(before: number): Promise<number> {
    const r = await this.db.deleteFrom('sign_in_ceremonies').where('expires_at', '<=', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
