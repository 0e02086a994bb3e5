import type { Kysely } from 'kysely';
import type { CeremonyKind, SignInCeremonyStore, StoredCeremony } from '../verification/sign-in-ceremony.js';
import type { Database } from './schema.js';

export class SqlSignInCeremonyStore implements SignInCeremonyStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insertCeremony(c: StoredCeremony): Promise<void> {
    await this.db
      .insertInto('sign_in_ceremonies')
      .values({ id_hash: c.idHash, session_hash: c.sessionHash, kind: c.kind, data: JSON.stringify(c.data), expires_at: c.expiresAt })
      .execute();
  }

  async takeCeremony(idHash: string, sessionHash: string, kind: CeremonyKind, now: number): Promise<Record<string, string> | undefined> {
    // One statement: two requests with the same handle cannot both get it back.
    const row = await this.db
      .deleteFrom('sign_in_ceremonies')
      .where('id_hash', '=', idHash)
      .where('session_hash', '=', sessionHash)
      .where('kind', '=', kind)
      .where('expires_at', '>', now)
      .returning('data')
      .executeTakeFirst();
    if (!row) return undefined;
    const parsed: unknown = JSON.parse(row.data);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }

  async deleteExpiredCeremonies(before: number): Promise<number> {
    const r = await this.db.deleteFrom('sign_in_ceremonies').where('expires_at', '<=', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
