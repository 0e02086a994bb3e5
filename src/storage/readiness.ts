import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Whether the database answers a trivial query: what `/readyz` reports to a load balancer or orchestrator. */
export async function databaseAnswers(db: Kysely<Database>): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
