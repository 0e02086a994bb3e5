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
  /** The policies that determined it (Cedar's determining policy ids), for the log; never shown to the client. */
  policies?: readonly string[];
  /** Why, in a word, for the log (Cedar's: forbidden, not_permitted, error...). */
  cause?: string;
  /**
   * Until when (seconds since the epoch) the same decision holds for the same token, method, route and context
   * key. Absent: decide again next time. A decision is never kept past the token's expiry either.
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
  /**
   * Whether decisions depend on the route (default true). Cedar reads the path, not the framework's template, so
   * {@link ApiPolicy} says false and puts the path in its context key exactly when a policy reads `path`.
   */
  routeMatters?: boolean;
  /** How many decisions to keep (default 10,000). */
  cacheSize?: number;
  /**
   * The generation of the rules `authorize` applies, when they can change while the guard runs (a policy reload
   * bumps it): a decision made under one generation is never reused under another.
   */
  generation?: () => number;
}

/**
 * The decision last used for one token, with every fact it was found under: reused for the token's next request
 * only when each is the same and it still holds (see `TokenMemo`).
 */
export interface DecisionMemo {
  readonly epoch: number;
  readonly generation: number;
  readonly method: string;
  readonly route: string;
  readonly contextKey: string;
  readonly until: number;
  readonly decision: AuthorizationDecision;
}

/** Where a caller keeps a {@link DecisionMemo} (the guard: with the token). */
export interface DecisionSlot {
  decision: DecisionMemo | undefined;
}

/**
 * Decisions kept only as long as they are safe to reuse: until the earlier of the decision's own
 * `cacheableUntil` and the token's expiry, for exactly the same token, method, route, context key and policy
 * generation. Keyed by the token (`jti`), not the grant: a grant's next token may carry other claims (a device
 * class lowered, groups changed at refresh), and a decision rests on the claims it was made with.
 */
export class DecisionCache {
  private readonly cache: ExpiringCache<string, AuthorizationDecision>;
  private readonly contextKey: (context: RequestContext) => string;
  /** Bumped by {@link clear}, so no memo made before outlives it. */
  private epoch = 0;

  constructor(private readonly options: PolicyOptions) {
    this.cache = new ExpiringCache(options.cacheSize ?? 10_000);
    this.contextKey = options.contextKey ?? ((c) => `${c.ip ?? ''}\n${c.userAgent ?? ''}`);
  }

  /**
   * The decision for this request: from the cache while it holds, otherwise from the policy. `slot`: where the
   * caller keeps the last decision for this identity's token (one token, one slot), checked before the cache: the
   * same answer the cache would give, found by comparing the facts instead of building and hashing a key.
   */
  decide(identity: VerifiedIdentity, context: RequestContext, slot?: DecisionSlot): AuthorizationDecision | Promise<AuthorizationDecision> {
    const generation = this.options.generation?.() ?? 0;
    const route = this.options.routeMatters === false ? '' : context.route;
    const contextKey = this.contextKey(context);
    const last = slot?.decision;
    if (
      last !== undefined &&
      context.now < last.until &&
      last.epoch === this.epoch &&
      last.generation === generation &&
      last.method === context.method &&
      last.route === route &&
      last.contextKey === contextKey
    ) {
      return last.decision;
    }
    // The jti fixes every claim (user, groups, client, scopes, device, iat); the issuer is the only one to mint it.
    const key = `${generation}\n${identity.jti}\n${context.method}\n${route}\n${contextKey}`;
    const memo = (decision: AuthorizationDecision, until: number): void => {
      if (slot) slot.decision = { epoch: this.epoch, generation, method: context.method, route, contextKey, until, decision };
    };
    const kept = this.cache.entry(key, context.now);
    if (kept) {
      memo(kept.value, kept.until);
      return kept.value;
    }
    const decision = this.options.authorize(identity, context);
    // A synchronous policy (Cedar is) stays synchronous: no detour through the event loop per request.
    if (decision instanceof Promise) return decision.then((d) => this.keep(key, d, identity, context, memo));
    return this.keep(key, decision, identity, context, memo);
  }

  private keep(
    key: string,
    decision: AuthorizationDecision,
    identity: VerifiedIdentity,
    context: RequestContext,
    memo: (decision: AuthorizationDecision, until: number) => void,
  ): AuthorizationDecision {
    if (decision.cacheableUntil !== undefined) {
      const until = Math.min(decision.cacheableUntil, identity.expiresAt);
      this.cache.set(key, decision, until, context.now);
      if (until > context.now) memo(decision, until);
    }
    return decision;
  }

  /** Forgets every decision (e.g. when the claims a policy reads have changed), remembered ones included. */
  clear(): void {
    this.cache.clear();
    this.epoch++;
  }

  get size(): number {
    return this.cache.size;
  }
}
