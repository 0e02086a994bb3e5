import { apiRequestInput } from '../policy/api-input.js';
import { DEFAULT_PACK_NAME, DEFAULT_POLICY_PACK } from '../policy/default-pack.js';
import { PolicyEngine, type LoadedPolicies } from '../policy/engine.js';
import type { NamedNetworks } from '../policy/network.js';
import { RESOURCE_TIERS, type ResourceTier } from '../policy/types.js';
import { PolicyWatcher, type ReloadOutcome } from '../policy/watch.js';
import type { VerifiedIdentity } from './access-token.js';
import { consoleLogger, type GuardLogger } from './logger.js';
import type { AuthorizationDecision, PolicyOptions, RequestContext } from './policy.js';

export type { ReloadOutcome };

/** How the guard asks Cedar: where the policies are and what this API is to them. */
export interface ApiPolicyOptions {
  /**
   * A `.cedar` file or a directory of them, validated against the same schema as the server's and reloaded on
   * change (an invalid change is refused, logged, and the set in force stays). Absent: the default pack.
   */
  policies?: string;
  /** This API's audience URI(s): the `Tether::Resource` a request is for is the one the token names. */
  audience: string | readonly string[];
  /** This API's sensitivity, `resource.tier` to policies (default "low", as in the server's configuration). */
  tier?: ResourceTier;
  /** Named networks for `context.network`, as the server's `policy.networks`, so both name an address alike. */
  networks?: NamedNetworks;
  /** The IANA time zone of `context.hour` and `context.weekday` (default UTC), as the server's `policy.time_zone`. */
  timeZone?: string;
  logger?: GuardLogger;
  /** Quiet time after a change before reloading (default 200 ms). */
  debounceMs?: number;
  /** Called after each reload a change triggered (for tests and metrics). */
  onReload?: (outcome: ReloadOutcome) => void;
  /** Decisions kept by the guard (default 10,000). */
  cacheSize?: number;
}

/** Every zone's offset from UTC is a whole number of quarter hours, so local hours change only on these. */
const QUARTER_HOUR = 900;

/**
 * Request-time policy for a guard: Cedar's `Tether::Action::"CallResource"`, decided for every request from the
 * verified token's claims (user and `groups`, client, scopes, `device_class` / `device_enrolled`, `iat`) and the
 * request (method, path, caller address and network, hour and weekday). It plugs into the guard as its `policy`
 * option; `connectGuard` and `tether gateway` build one from their `policies` option.
 *
 * Decisions are reused safely: the cache key holds exactly the request facts the loaded policies read (the path
 * only if a policy reads `path`, the address only if one reads `ip` or `network`...), a decision is kept no longer
 * than the local hour it was made in when a policy reads `hour` or `weekday`, not at all when one reads
 * `tokenAgeSeconds`, never past the token's `exp`, and never across a reload (each load is a new generation).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 * @see ../../docs/policy.md
 */
export class ApiPolicy implements PolicyOptions {
  readonly cacheSize: number | undefined;
  /** Cedar sees the path (in the context key when read), never the route template. */
  readonly routeMatters = false;
  private readonly audiences: readonly string[];
  private readonly tier: ResourceTier;
  private reads: ReadonlySet<string> | 'all' = 'all';
  private readsGeneration = -1;
  private readonly logger: GuardLogger;

  private constructor(
    readonly engine: PolicyEngine,
    private readonly watcher: PolicyWatcher | undefined,
    options: ApiPolicyOptions,
  ) {
    ({ audiences: this.audiences, tier: this.tier } = checked(options));
    this.cacheSize = options.cacheSize;
    this.logger = options.logger ?? consoleLogger;
  }

  /**
   * Loads the policies (throwing a `PolicyError` naming each problem when they cannot be used, so a guard never
   * starts on a set it cannot apply) and, for a path, starts watching it.
   */
  static async load(options: ApiPolicyOptions): Promise<ApiPolicy> {
    checked(options); // before anything is read or watched
    const engine = new PolicyEngine({ networks: options.networks, timeZone: options.timeZone });
    if (options.policies === undefined) {
      engine.load(DEFAULT_POLICY_PACK, DEFAULT_PACK_NAME);
      return new ApiPolicy(engine, undefined, options);
    }
    const logger = options.logger ?? consoleLogger;
    const watcher = await PolicyWatcher.start(engine, options.policies, {
      logger,
      debounceMs: options.debounceMs,
      onReload: options.onReload,
    });
    return new ApiPolicy(engine, watcher, options);
  }

  /**
   * Request-time policy over an engine someone else loads and reloads (the server's own, for its demo API): the
   * same decisions and cache rules, following the engine's generation.
   */
  static over(engine: PolicyEngine, options: Omit<ApiPolicyOptions, 'policies' | 'networks' | 'timeZone' | 'debounceMs' | 'onReload'>): ApiPolicy {
    if (!engine.loaded) throw new Error('the engine has no policy set loaded');
    return new ApiPolicy(engine, undefined, options);
  }

  /** The set in force. */
  get loaded(): LoadedPolicies {
    return this.engine.loaded as LoadedPolicies;
  }

  /** Bumped by every load that succeeded; a decision never outlives the generation it was made in. */
  generation = (): number => this.engine.loaded?.generation ?? 0;

  /** Reads the policy path again now (a watcher does this on change); never throws. */
  reload(): Promise<ReloadOutcome> {
    return this.watcher ? this.watcher.reload() : Promise.resolve({ status: 'unchanged' });
  }

  /** Stops watching the policy path. */
  close(): void {
    this.watcher?.close();
  }

  /** The guard's hook: one Cedar decision for a verified request. Throws (and the guard refuses) on bad input. */
  authorize = (identity: VerifiedIdentity, context: RequestContext): AuthorizationDecision => {
    const reads = this.currentReads();
    const ip = context.ip;
    // Without the caller's address, `ip` and `network` cannot be filled: refuse rather than guess.
    if (ip === undefined) throw new Error('the caller address is unknown; policy needs it');
    const decision = this.engine.decide(
      apiRequestInput({
        claims: identity.claims,
        method: context.method,
        url: context.path,
        ip,
        ...(context.userAgent !== undefined ? { userAgent: context.userAgent } : {}),
        resource: { uri: this.resourceOf(identity), tier: this.tier },
        now: context.now,
      }),
    );
    const cacheableUntil = decision.decision === 'deny' && decision.cause === 'error' ? undefined : this.reuseUntil(reads, context.now);
    if (decision.decision === 'allow') {
      return { decision: 'allow', reason: decision.reasons.join(', '), policies: decision.reasons, ...(cacheableUntil !== undefined ? { cacheableUntil } : {}) };
    }
    if (decision.errors) {
      this.logger.error({ policies: decision.reasons, errors: decision.errors }, 'guard: policy could not be evaluated; refused');
    }
    return {
      decision: 'deny',
      reason: decision.message,
      policies: decision.reasons,
      cause: decision.cause,
      ...(cacheableUntil !== undefined ? { cacheableUntil } : {}),
    };
  };

  /** What of the request, besides token, method and route, the loaded policies can tell apart. */
  contextKey = (context: RequestContext): string => {
    const reads = this.currentReads();
    if (reads === 'all') return `${context.path}\n${context.ip ?? ''}\n${context.userAgent ?? ''}`;
    const path = reads.has('path') ? context.path : '';
    const ip = reads.has('ip') || reads.has('network') ? (context.ip ?? '') : '';
    const agent = reads.has('userAgent') ? (context.userAgent ?? '') : '';
    return `${path}\n${ip}\n${agent}`;
  };

  private currentReads(): ReadonlySet<string> | 'all' {
    const generation = this.generation();
    if (generation !== this.readsGeneration) {
      this.reads = this.engine.contextReads('api') ?? 'all';
      this.readsGeneration = generation;
    }
    return this.reads;
  }

  /** How long a decision holds given what the policies read; the guard caps it at the token's `exp`. */
  private reuseUntil(reads: ReadonlySet<string> | 'all', now: number): number | undefined {
    if (reads === 'all' || reads.has('tokenAgeSeconds')) return undefined;
    if (reads.has('hour') || reads.has('weekday')) return (Math.floor(now / QUARTER_HOUR) + 1) * QUARTER_HOUR;
    return Number.POSITIVE_INFINITY;
  }

  /** The audience of ours the token names (a token may name several APIs); the first configured one otherwise. */
  private resourceOf(identity: VerifiedIdentity): string {
    const aud = identity.claims['aud'];
    if (typeof aud === 'string' && this.audiences.includes(aud)) return aud;
    if (Array.isArray(aud)) for (const a of aud) if (typeof a === 'string' && this.audiences.includes(a)) return a;
    return this.audiences[0] as string;
  }
}

/** The audiences and tier of the options, or a RangeError naming what is wrong. */
function checked(options: Pick<ApiPolicyOptions, 'audience' | 'tier'>): { audiences: readonly string[]; tier: ResourceTier } {
  const audiences = typeof options.audience === 'string' ? [options.audience] : [...options.audience];
  const tier = options.tier ?? 'low';
  if (!RESOURCE_TIERS.includes(tier)) throw new RangeError(`tier must be one of ${RESOURCE_TIERS.join(', ')}`);
  if (audiences.length === 0) throw new RangeError('an API policy needs the audience it guards');
  return { audiences, tier };
}

/** Loads request-time policy for a guard: see {@link ApiPolicy}. */
export function loadApiPolicy(options: ApiPolicyOptions): Promise<ApiPolicy> {
  return ApiPolicy.load(options);
}
