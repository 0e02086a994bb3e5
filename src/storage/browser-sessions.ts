import type { Kysely } from 'kysely';
import { authenticationJson, authenticationOf } from './authentication-json.js';
import type { BrowserSession, BrowserSessionStore } from '../verification/browser-session.js';
import type { Database } from './schema.js';

export class SqlBrowserSessionStore implements BrowserSessionStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insertSession(s: BrowserSession): Promise<void> {
    await this.db
      .insertInto('browser_sessions')
      .values({
        id_hash: s.idHash,
        user_id: s.userId,
        auth_time: s.authTime,
        auth_method: s.authentication?.method ?? null,
        auth_context: s.authentication ? authenticationJson(s.authentication) : null,
        created_at: s.createdAt,
        expires_at: s.expiresAt,
      })
      .execute();
  }

  async findSession(idHash: string): Promise<BrowserSession | undefined> {
    const r = await this.db.selectFrom('browser_sessions').selectAll().where('id_hash', '=', idHash).executeTakeFirst();
    if (!r) return undefined;
    return {
      idHash: r.id_hash,
      userId: r.user_id,
      authTime: r.auth_time === null ? null : Number(r.auth_time),
      authentication: r.user_id === null ? null : authenticationOf(r.auth_context),
      createdAt: Number(r.created_at),
      expiresAt: Number(r.expires_at),
    };
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.db.deleteFrom('browser_sessions').where('id_hash', '=', idHash).execute();
  }

  /** Ends every verification-page session of a person (offboarding): none can approve after a reactivation. */
  async deleteSessionsOfUser(userId: string): Promise<number> {
    const r = await this.db.deleteFrom('browser_sessions').where('user_id', '=', userId).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async deleteExpiredSessions(before: number): Promise<number> {
    const r = await this.db.deleteFrom('browser_sessions').where('expires_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

