import { ExpiringCache } from './expiring-cache.js';
import type { VerifiedIdentity } from './access-token.js';

/** The request as policy sees it, after the token and proof have been verified. */
export interface RequestContext {
  /** Upper case. */
  method: string;
  /** The path called, without the query. */
  path: string;
  /** The route template when the framework knows it (e.g. `/orders/:id`), else the path. */
  route: string;
  /** The caller's address, as the adapter determined it. */
  ip: string | undefined;
  userAgent: string | undefined;
  /** Seconds since the epoch. */
  now: number;
}

/** What request-time policy answers. */
export interface AuthorizationDecision {
  decision: 'allow' | 'deny';
  /** Why: shown to the client on a refusal, logged either way. */
  reason: string;
  /**
   * Until when (seconds since the epoch) the same decision holds for the same grant, scopes, method, route and
   * context key. Absent: decide again next time. A decision is never kept past the token's expiry either.
   */
  cacheableUntil?: number;
}

/**
 * The request-time policy hook (Cedar, in Tether's wiring). It may be async; if it throws, the request is refused.
 *
 * @see https://www.cedarpolicy.com/en
 */
export type Authorize = (identity: VerifiedIdentity, context: RequestContext) => AuthorizationDecision | Promise<AuthorizationDecision>;

export interface PolicyOptions {
  authorize: Authorize;
  /**
   * The part of the context a decision may depend on besides grant, scopes, method and route. Default: the caller's
   * address and user agent, since policies may look at networks and clients. Return '' when policy depends on
   * neither; never leave out something the policy reads, or a decision could be reused where it does not apply.
   */
  contextKey?: (context: RequestContext) => string;
  /** How many decisions to keep (default 10,000). */
  cacheSize?: number;
}

/**
 * Decisions kept only as long as they are safe to reuse: until the earlier of the decision's own
 * `cacheableUntil` and the token's expiry, for exactly the same grant, scopes, method, route and context key.
 */
export class DecisionCache {
  private readonly cache: ExpiringCache<string, AuthorizationDecision>;
  private readonly contextKey: (context: RequestContext) => string;

  constructor(private readonly options: PolicyOptions) {
    this.cache = new ExpiringCache(options.cacheSize ?? 10_000);
    this.contextKey = options.contextKey ?? ((c) => `${c.ip ?? ''}\n${c.userAgent ?? ''}`);
  }

  /** The decision for this request: from the cache while it holds, otherwise from the policy. */
  decide(identity: VerifiedIdentity, context: RequestContext): AuthorizationDecision | Promise<AuthorizationDecision> {
    const key = this.keyOf(identity, context);
    return this.cache.get(key, context.now) ?? this.ask(key, identity, context);
  }

  private keyOf(identity: VerifiedIdentity, context: RequestContext): string {
    // The grant fixes user, client and key; the scopes can differ between a grant's tokens, so they are part of it.
    const grant = identity.grantId ?? `jti:${identity.jti}`;
    return `${grant}\n${identity.scopes.join(' ')}\n${context.method}\n${context.route}\n${this.contextKey(context)}`;
  }

  private async ask(key: string, identity: VerifiedIdentity, context: RequestContext): Promise<AuthorizationDecision> {
    const decision = await this.options.authorize(identity, context);
    if (decision.cacheableUntil !== undefined) {
      this.cache.set(key, decision, Math.min(decision.cacheableUntil, identity.expiresAt), context.now);
    }
    return decision;
  }

  /** Forgets every decision (e.g. when the claims a policy reads have changed). */
  clear(): void {
    this.cache.clear();
  }

  get size(): number {
    return this.cache.size;
  }
}
