import type { Kysely } from 'kysely';
import type { Passkey, PasskeyStore } from '../verification/passkeys.js';
import type { Database, PasskeyTable } from './schema.js';

/** Passkeys of local accounts (table `passkeys`, migration 0004-sso). */
export class SqlPasskeyStore implements PasskeyStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insertPasskey(p: Passkey): Promise<void> {
    await this.db
      .insertInto('passkeys')
      .values({
        credential_id: p.id,
        user_id: p.userId,
        public_key: Buffer.from(p.publicKey).toString('base64url'),
        counter: p.counter,
        transports: JSON.stringify(p.transports),
        device_type: p.deviceType,
        backed_up: p.backedUp ? 1 : 0,
        name: p.name,
        created_at: p.createdAt,
        last_used_at: p.lastUsedAt,
      })
      .execute();
  }

  async findPasskey(id: string): Promise<Passkey | undefined> {
    const r = await this.db.selectFrom('passkeys').selectAll().where('credential_id', '=', id).executeTakeFirst();
    return r && passkeyOf(r);
  }

  async listPasskeys(userId: string): Promise<Passkey[]> {
    const rows = await this.db.selectFrom('passkeys').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();
    return rows.map(passkeyOf);
  }

  async usePasskey(id: string, counter: number, at: number): Promise<void> {
    await this.db.updateTable('passkeys').set({ counter, last_used_at: at }).where('credential_id', '=', id).execute();
  }

  async deletePasskey(userId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('passkeys').where('user_id', '=', userId).where('credential_id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}

function passkeyOf(r: PasskeyTable): Passkey {
  const transports: unknown = JSON.parse(r.transports);
  return {
    id: r.credential_id,
    userId: r.user_id,
    publicKey: new Uint8Array(Buffer.from(r.public_key, 'base64url')),
    counter: Number(r.counter),
    transports: Array.isArray(transports) ? transports.filter((t): t is string => typeof t === 'string') : [],
    deviceType: r.device_type,
    backedUp: Number(r.backed_up) === 1,
    name: r.name,
    createdAt: Number(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
  };
}
