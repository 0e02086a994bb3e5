import type { Kysely } from 'kysely';
import type { SigningKeyStore, StoredSigningKey } from '../tokens/signing-keys.js';
import type { Database } from './schema.js';

export class SqlSigningKeyStore implements SigningKeyStore {
  constructor(private readonly db: Kysely<Database>) {}

  async listSigningKeys(): Promise<StoredSigningKey[]> {
    const rows = await this.db.selectFrom('signing_keys').selectAll().execute();
    return rows.map((r) => ({
      kid: r.kid,
      alg: r.alg,
      privateJwk: r.private_jwk,
      publicJwk: r.public_jwk,
      createdAt: Number(r.created_at),
      activatesAt: r.activates_at === null ? null : Number(r.activates_at),
      retiredAt: r.retired_at === null ? null : Number(r.retired_at),
    }));
  }

  async insertSigningKey(key: StoredSigningKey): Promise<void> {
    await this.db
      .insertInto('signing_keys')
      .values({
        kid: key.kid,
        alg: key.alg,
        private_jwk: key.privateJwk,
        public_jwk: key.publicJwk,
        created_at: key.createdAt,
        activates_at: key.activatesAt,
        retired_at: key.retiredAt,
      })
      .execute();
  }

  async updatePrivateKey(kid: string, privateJwk: string): Promise<void> {
    await this.db.updateTable('signing_keys').set({ private_jwk: privateJwk }).where('kid', '=', kid).execute();
  }

  async retireSigningKey(kid: string, at: number): Promise<void> {
    await this.db.updateTable('signing_keys').set({ retired_at: at }).where('kid', '=', kid).execute();
  }
}
