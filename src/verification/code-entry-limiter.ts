import { USER_CODE_SPACE } from '../device-flow/user-code.js';

export interface CodeEntryLimits {
  perIpFailures: number;
  perSessionFailures: number;
  /** Seconds the per-IP and per-session counts cover. */
  window: number;
  /** Longest device code lifetime: the span the global budget covers. */
  codeLifetime: number;
  /** Bound on an attacker's chance of hitting any live code within one code lifetime. */
  maxGuessProbability: number;
}

export type Refusal = { limitedBy: 'ip' | 'session' | 'global'; retryAfter: number };

/**
 * Rate limits user-code entry (RFC 8628 §5.1). Per IP and per browser session, plus a server-wide budget of
 * failed guesses: with L live codes among 20^8, each failed guess had at most an L/20^8 chance of hitting one,
 * so allowing F failures per code lifetime keeps an attacker's total chance under F·L/20^8. We pick the largest
 * F that keeps it under `maxGuessProbability` (but at least one); when it is spent, entry pauses until old
 * failures age out.
 *
 * Kept in memory: a restart forgets counts, but an attacker cannot cause one.
 */
export class CodeEntryLimiter {
  private readonly byIp = new Map<string, number[]>();
  private readonly bySession = new Map<string, number[]>();
  private global: number[] = [];

  constructor(
    private readonly limits: CodeEntryLimits,
    private readonly now: () => number,
  ) {}

  /**
   * Failures the server absorbs in one code lifetime with `liveCodes` codes live. Never below one: with many live
   * codes the exact bound would be zero, refusing even correct codes while nobody has guessed wrong; one failure
   * per lifetime is the strictest limit that still lets people in (the bound is then L/20^8 per lifetime).
   */
  globalBudget(liveCodes: number): number {
    return Math.max(1, Math.floor((this.limits.maxGuessProbability * USER_CODE_SPACE) / Math.max(1, liveCodes)));
  }

  /** Whether one more guess may be checked now; a refusal says by which limit and for how long. */
  check(ip: string, sessionKey: string, liveCodes: number): Refusal | undefined {
    const now = this.now();
    const ipHits = this.recent(this.byIp, ip, now - this.limits.window);
    if (ipHits.length >= this.limits.perIpFailures) {
      return { limitedBy: 'ip', retryAfter: (ipHits[0] ?? now) + this.limits.window - now };
    }
    const sessionHits = this.recent(this.bySession, sessionKey, now - this.limits.window);
    if (sessionHits.length >= this.limits.perSessionFailures) {
      return { limitedBy: 'session', retryAfter: (sessionHits[0] ?? now) + this.limits.window - now };
    }
    this.global = this.global.filter((t) => t > now - this.limits.codeLifetime);
    if (this.global.length >= this.globalBudget(liveCodes)) {
      const oldest = this.global[0] ?? now;
      return { limitedBy: 'global', retryAfter: Math.max(1, oldest + this.limits.codeLifetime - now) };
    }
    return undefined;
  }

  recordFailure(ip: string, sessionKey: string): void {
    const now = this.now();
    this.push(this.byIp, ip, now);
    this.push(this.bySession, sessionKey, now);
    this.global.push(now);
  }

  /** Forgets per-key entries whose failures have all aged out. */
  sweep(): void {
    const cutoff = this.now() - this.limits.window;
    for (const map of [this.byIp, this.bySession]) {
      for (const [key, hits] of map) if ((hits[hits.length - 1] ?? 0) <= cutoff) map.delete(key);
    }
  }

  private recent(map: Map<string, number[]>, key: string, cutoff: number): number[] {
    const hits = map.get(key);
    if (!hits) return [];
    const live = hits.filter((t) => t > cutoff);
    if (live.length === 0) map.delete(key);
    else map.set(key, live);
    return live;
  }

  private push(map: Map<string, number[]>, key: string, at: number): void {
    const hits = map.get(key);
    if (hits) hits.push(at);
    else map.set(key, [at]);
  }
}
