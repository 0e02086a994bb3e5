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
 * Decisions kept only as long as they are safe to reuse: until the earlier of the decision's own
 * `cacheableUntil` and the token's expiry, for exactly the same token, method, route, context key and policy
 * generation. Keyed by the token (`jti`), not the grant: a grant's next token may carry other claims (a device
 * class lowered, groups changed at refresh), and a decision rests on the claims it was made with.
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
    // The jti fixes every claim (user, groups, client, scopes, device, iat); the issuer is the only one to mint it.
    const generation = this.options.generation?.() ?? 0;
    const route = this.options.routeMatters === false ? '' : context.route;
    return `${generation}\n${identity.jti}\n${context.method}\n${route}\n${this.contextKey(context)}`;
  }

  private ask(key: string, identity: VerifiedIdentity, context: RequestContext): AuthorizationDecision | Promise<AuthorizationDecision> {
    const decision = this.options.authorize(identity, context);
    // A synchronous policy (Cedar is) stays synchronous: no detour through the event loop per request.
    if (decision instanceof Promise) return decision.then((d) => this.keep(key, d, identity, context));
    return this.keep(key, decision, identity, context);
  }

  private keep(key: string, decision: AuthorizationDecision, identity: VerifiedIdentity, context: RequestContext): AuthorizationDecision {
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
