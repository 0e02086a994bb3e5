import { SignJWT } from 'jose';
import type { RevocationStatement } from '../revocation/statement.js';
import type { Clock } from '../shared/clock.js';
import type { SigningKeySource } from '../tokens/signing-keys.js';
import { revocationSetClaims, SET_TYPE } from './security-event.js';

/** Signed SETs kept at most; past it, those whose statements no longer matter go first, then the oldest. */
const MAX_CACHED = 10_000;

/**
 * Signs revocation statements as Security Event Tokens with the key ring's current key and algorithm, once per
 * statement and key: every stream (and every guard resuming from the backlog) gets the same signed text, so the
 * cost of a signature is paid once whatever the number of subscribers. A rotation changes the key id, so SETs
 * are signed anew with the new key while the old key's ones are still valid until it retires.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8417#section-2.2
 */
export class RevocationSetSigner {
  private readonly cache = new Map<string, { set: Promise<string>; relevantUntil: number }>();
  /** How many signatures were made (metrics and the test that streams share them). */
  signatures = 0;

  constructor(
    private readonly deps: {
      issuer: string;
      keys: SigningKeySource;
      clock: Clock;
      /** The longest an access token can live: a statement matters to a guard only that long after its cut. */
      maxTokenTtl: number;
    },
  ) {}

  /** The compact SET of `statement` (which must have its stream position). */
  sign(statement: RevocationStatement): Promise<string> {
    const { kid, alg, key } = this.deps.keys.signingKey;
    const cacheKey = `${kid} ${statement.id}`;
    const cached = this.cache.get(cacheKey);
    if (cached) return cached.set;
    const relevantUntil = statement.issuedBefore + this.deps.maxTokenTtl;
    const claims = revocationSetClaims(
      {
        id: statement.id,
        seq: statement.seq ?? 0,
        kind: statement.kind,
        value: statement.value,
        issuedBefore: statement.issuedBefore,
        issuedBeforeMs: statement.issuedBeforeMs,
        relevantUntil,
        reason: statement.reason,
        actor: statement.actor,
      },
      this.deps.issuer,
      this.deps.clock.now(),
    );
    this.signatures++;
    const set = new SignJWT(claims).setProtectedHeader({ alg, kid, typ: SET_TYPE }).sign(key);
    // A failed signature is not remembered: the next subscriber tries again.
    set.catch(() => this.cache.delete(cacheKey));
    this.prune();
    this.cache.set(cacheKey, { set, relevantUntil });
    return set;
  }

  private prune(): void {
    if (this.cache.size < MAX_CACHED) return;
    const now = this.deps.clock.now();
    for (const [k, entry] of this.cache) if (entry.relevantUntil <= now) this.cache.delete(k);
    for (const k of this.cache.keys()) {
      if (this.cache.size < MAX_CACHED) break;
      this.cache.delete(k);
    }
  }
}
