import type { Kysely } from 'kysely';
import { uuidv7 } from '../shared/ids.js';
import type { CodeEntryGate } from '../verification/code-entry-gate.js';
import { CodeEntryLimiter, type CodeEntryLimits, type Refusal } from '../verification/code-entry-limiter.js';
import type { Database } from './schema.js';

/**
 * The code-entry limits (per IP, per browser session, and the server-wide guessing budget) counted over every
 * instance on one database: each wrong code is a row, and each check counts the rows in its window. The rule and
 * the budget are CodeEntryLimiter's; only where the failures are kept differs, so guesses spread over several
 * instances are counted once.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-5.1
 */
export class SqlCodeEntryLimiter implements CodeEntryGate {
  private readonly rule: CodeEntryLimiter;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly limits: CodeEntryLimits,
    private readonly now: () => number,
  ) {
    this.rule = new CodeEntryLimiter(limits, now);
  }

  async check(ip: string, sessionKey: string, liveCodes: number): Promise<Refusal | undefined> {
    const now = this.now();
    const window = this.limits.window;
    const byIp = await this.failures(now - window, 'ip', ip);
    if (byIp.n >= this.limits.perIpFailures) return { limitedBy: 'ip', retryAfter: (byIp.oldest ?? now) + window - now };
    const bySession = await this.failures(now - window, 'session_key', sessionKey);
    if (bySession.n >= this.limits.perSessionFailures) {
      return { limitedBy: 'session', retryAfter: (bySession.oldest ?? now) + window - now };
    }
    const all = await this.failures(now - this.limits.codeLifetime);
    if (all.n >= this.rule.globalBudget(liveCodes)) {
      return { limitedBy: 'global', retryAfter: Math.max(1, (all.oldest ?? now) + this.limits.codeLifetime - now) };
    }
    return undefined;
  }

  async recordFailure(ip: string, sessionKey: string): Promise<void> {
    await this.db.insertInto('code_entry_failures').values({ id: uuidv7(), at: this.now(), ip, session_key: sessionKey }).execute();
  }

  async sweep(): Promise<number> {
    const cutoff = this.now() - Math.max(this.limits.window, this.limits.codeLifetime);
    const result = await this.db.deleteFrom('code_entry_failures').where('at', '<=', cutoff).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  private async failures(after: number, column?: 'ip' | 'session_key', value?: string): Promise<{ n: number; oldest: number | undefined }> {
    let query = this.db
      .selectFrom('code_entry_failures')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min<number>('at').as('oldest')])
      .where('at', '>', after);
    if (column && value !== undefined) query = query.where(column, '=', value);
    const row = await query.executeTakeFirstOrThrow();
    return { n: Number(row.n), oldest: row.oldest === null ? undefined : Number(row.oldest) };
  }
}
