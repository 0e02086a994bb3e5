import { AccessTokenVerifier, TokenRejected, type VerifiedIdentity, type VerifiedToken } from './access-token.js';
import { formatChallenge, type GuardErrorCode } from './challenge.js';
import { ProofRejected, ProofVerifier, replayed, type NonceSource } from '../dpop/proof-verifier.js';
import { JWS_ALGORITHMS, type JwsAlgorithm } from '../dpop/jws.js';
import { KeysUnavailable, type KeySource } from './keys.js';
import { ProofIdCache } from './proof-ids.js';
import { consoleLogger, type GuardLogger } from './logger.js';
import { DecisionCache, type AuthorizationDecision, type PolicyOptions, type RequestContext } from './policy.js';
import type { RevocationSource } from './revocation-source.js';
import type { CheckOptions, GuardAllow, GuardRefusal, GuardRequest, GuardResult, RefusalCode, RefusalError } from './guard-result.js';

export type { VerifiedIdentity };
export type { CheckOptions, GuardAllow, GuardRefusal, GuardRequest, GuardResult, RefusalCode, RefusalError } from './guard-result.js';
export { refusalBody } from './guard-result.js';

export interface GuardOptions {
  issuer: string;
  /** This API's audience URI(s) (RFC 8707); a token must name one. */
  audience: string | readonly string[];
  /** The issuer's signing keys: {@link RemoteJwks} in a resource server. */
  keys: KeySource;
  /** Revocation: {@link RevocationStream} (push), or any {@link RevocationSource}. Without one, nothing is revoked early. */
  revocations?: RevocationSource;
  /** Scopes every request needs; a check can ask for more. */
  requiredScopes?: readonly string[];
  /** Request-time policy and its decision cache. */
  policy?: PolicyOptions;
  /** Accept unbound tokens with the Bearer scheme (default false: DPoP only, as Tether issues by default). */
  allowBearer?: boolean;
  /** Require server nonces in proofs (RFC 9449 §9). */
  nonces?: NonceSource;
  /** Algorithms accepted for access tokens (default ES256) and proofs (default all asymmetric ones). */
  tokenAlgorithms?: readonly JwsAlgorithm[];
  proofAlgorithms?: readonly JwsAlgorithm[];
  /** Seconds a proof may be old (default 60) or ahead (default 10). */
  proofMaxAge?: number;
  proofMaxFuture?: number;
  /** Seconds of clock difference tolerated on token exp/nbf (default 0; at most 60). */
  clockTolerance?: number;
  /** Verified tokens kept (default 10,000). */
  tokenCacheSize?: number;
  /** For WWW-Authenticate. */
  realm?: string;
  logger?: GuardLogger;
  /** Seconds since the epoch (fractional allowed). */
  now?: () => number;
}

const TOKEN68 = /^(DPoP|Bearer) +([A-Za-z0-9._~+/-]+=*) *$/i;
const NO_STORE = 'no-store';

/**
 * The framework-free core of a resource server that accepts Tether tokens. One `check` per request:
 *
 * 1. the access token: a JWT signed by the issuer (RFC 9068), for this audience, unexpired; cached by its text
 *    until it expires, so a token's signature is checked once, not per request;
 * 2. its binding: a token bound to a key (`cnf.jkt`) needs the DPoP scheme and a proof by that key (RFC 9449
 *    §7.1: htm, htu, ath, iat window, jti never seen, optional server nonce). A bound token sent as Bearer is
 *    refused, since that is what a copied token without its key looks like;
 * 3. revocation, from the pushed statements; if they cannot be trusted to be current, every request is refused
 *    with 503 (fail closed);
 * 4. scopes, then request-time policy with its cache.
 *
 * Refusals carry the status, the RFC 6750 / RFC 9449 challenge and a JSON-ready error; adapters only write them.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export class Guard {
  private readonly tokens: AccessTokenVerifier;
  private readonly proofs: ProofVerifier;
  private readonly replay: ProofIdCache;
  private readonly decisions: DecisionCache | undefined;
  private readonly now: () => number;
  private readonly logger: GuardLogger;
  private readonly requiredScopes: readonly string[];
  private readonly allowBearer: boolean;
  private readonly algs: readonly string[];
  private readonly absent: GuardRefusal;

  constructor(private readonly options: GuardOptions) {
    this.now = options.now ?? (() => Date.now() / 1000);
    this.logger = options.logger ?? consoleLogger;
    const clockTolerance = Math.min(60, Math.max(0, options.clockTolerance ?? 0));
    this.tokens = new AccessTokenVerifier({
      issuer: options.issuer,
      audience: options.audience,
      keys: options.keys,
      algorithms: options.tokenAlgorithms,
      cacheSize: options.tokenCacheSize,
      clockTolerance,
    });
    this.replay = new ProofIdCache(() => this.now());
    this.proofs = new ProofVerifier({
      replay: this.replay,
      algorithms: options.proofAlgorithms ?? JWS_ALGORITHMS,
      maxAge: options.proofMaxAge,
      maxFuture: options.proofMaxFuture,
    });
    this.decisions = options.policy ? new DecisionCache(options.policy) : undefined;
    this.requiredScopes = options.requiredScopes ?? [];
    this.allowBearer = options.allowBearer ?? false;
    this.algs = this.proofs.supportedAlgorithms;
    // RFC 6750 §3.1: a request without credentials gets the challenges alone, no error code.
    const challenges = [formatChallenge('DPoP', { realm: options.realm, algs: this.algs })];
    if (this.allowBearer) challenges.push(formatChallenge('Bearer', { realm: options.realm }));
    this.absent = this.refusal(401, 'missing_token', 'invalid_token', 'An access token is required.', challenges.join(', '));
  }

  /** Checks one request; never throws for anything a client can send. */
  async check(request: GuardRequest, options: CheckOptions = {}): Promise<GuardResult> {
    return this.checkNow(request, options);
  }

  /**
   * {@link check}, answered synchronously when everything it needs is at hand (the token verified before, the
   * revocation answer and the policy decision known), else a promise: an adapter can then write the response in
   * the request's own callback, with no detour through the microtask queue. It may throw (synchronously or by
   * rejecting) only for faults of the guard itself, never for anything a client can send. Every check of
   * {@link check} runs on every request either way: only the awaiting is skipped.
   */
  checkNow(request: GuardRequest, options: CheckOptions = {}): GuardResult | Promise<GuardResult> {
    const now = this.now();
    const authorization = request.authorization;
    if (!authorization) return this.absent;
    // A token seen before: a cache hit is an exact match of a token that once matched TOKEN68 (it has no spaces
    // and only token68 characters), so "DPoP " + it is what the pattern would have accepted: skip the pattern.
    if (authorization.startsWith('DPoP ')) {
      const token = this.tokens.cached(authorization.slice(5), now);
      if (token) return this.afterToken(token, 'DPoP', request, options, now);
    }
    const match = TOKEN68.exec(authorization);
    if (!match) {
      // Another scheme (Basic, say) is not an attempt at a token; a garbled DPoP/Bearer header is a bad request.
      if (!/^(DPoP|Bearer)\b/i.test(authorization)) return this.absent;
      const description = 'The Authorization header is malformed.';
      return this.refusal(400, 'malformed_authorization', 'invalid_request', description, this.challenge('DPoP', 'invalid_request', description));
    }
    const scheme = (match[1] as string).length === 4 ? 'DPoP' : 'Bearer';
    const raw = match[2] as string;
    const token = this.tokens.cached(raw, now);
    if (token) return this.afterToken(token, scheme, request, options, now);
    return this.tokens.verify(raw, now).then(
      (verified) => this.afterToken(verified, scheme, request, options, now),
      (error: unknown) => this.tokenFailure(error, scheme),
    );
  }

  /** Everything after the token's own checks: binding and proof, revocation, scopes, policy. */
  private afterToken(
    token: VerifiedToken,
    scheme: 'DPoP' | 'Bearer',
    request: GuardRequest,
    options: CheckOptions,
    now: number,
  ): GuardResult | Promise<GuardResult> {
    if (token.jkt !== null) {
      if (scheme !== 'DPoP') {
        const description = 'This token is bound to a key: send it with the DPoP scheme and a proof.';
        return this.unauthorized('bearer_for_bound_token', 'invalid_token', description, 'DPoP');
      }
      const proof = request.dpop;
      if (proof === undefined || proof === '') {
        return this.unauthorized('missing_proof', 'invalid_dpop_proof', 'A DPoP proof is required with this token.', 'DPoP');
      }
      const refused = this.proofRefusal(proof, token, token.jkt, request, now);
      if (refused) return refused;
    } else if (scheme === 'DPoP') {
      const description = 'This token is not bound to a key; DPoP cannot be used with it.';
      return this.unauthorized('dpop_for_unbound_token', 'invalid_token', description, this.allowBearer ? 'Bearer' : 'DPoP');
    } else if (!this.allowBearer) {
      return this.unauthorized('bearer_not_allowed', 'invalid_token', 'This API accepts only DPoP-bound tokens.', 'DPoP');
    }

    const revocations = this.options.revocations;
    if (revocations) {
      const health = revocations.health();
      if (!health.fresh) {
        const description =
          `Cannot tell whether this token was revoked: ${health.reason}. ` +
          'Refusing every request until the revocation stream is back.';
        const retry = { 'retry-after': String(health.retryAfterSeconds) };
        return this.refusal(503, 'revocation_unknown', 'temporarily_unavailable', description, undefined, retry);
      }
      // Asked on every request, cached token or not: a statement pushed a moment ago applies to the next request.
      // A source with a version answers "not revoked" again for free while no statement has arrived since.
      const version = revocations.version?.();
      if (version === undefined || token.memo.notRevokedAt !== version) {
        const revoked = revocations.isRevoked(token);
        if (revoked === true) return this.unauthorized('revoked', 'invalid_token', 'The access token has been revoked.', scheme);
        if (revoked === false) {
          if (version !== undefined) token.memo.notRevokedAt = version;
          return this.afterRevocation(token, scheme, request, options, now);
        }
        return revoked.then((yes) =>
          yes ? this.unauthorized('revoked', 'invalid_token', 'The access token has been revoked.', scheme) : this.afterRevocation(token, scheme, request, options, now),
        );
      }
    }
    return this.afterRevocation(token, scheme, request, options, now);
  }

  /** The DPoP proof of a bound token's request: undefined when it holds (and its jti is claimed), else the refusal. */
  private proofRefusal(proof: string | string[], token: VerifiedToken, jkt: string, request: GuardRequest, now: number): GuardRefusal | undefined {
    // Node joins repeated DPoP headers with ", "; a proof has no comma. Looked for only in a proof that failed,
    // which such a value always does (a comma is no base64url character), so a good proof is not scanned twice.
    if (typeof proof !== 'string') return this.onlyOneProof();
    try {
      const expected = {
        htm: request.method.toUpperCase(),
        htu: withoutQuery(request.url),
        ath: token.ath,
        jkt,
        now,
        nonces: this.options.nonces,
        headerMemo: token.memo.proof,
      };
      const checked = this.proofs.check(proof, expected);
      // Claimed last, as ProofVerifier.verify does, by its parts: the same id without building the string.
      if (!this.replay.claimProof(checked.jkt, checked.jti, checked.replayUntil, now)) throw replayed();
    } catch (error) {
      if (!(error instanceof ProofRejected)) throw error;
      if (error.code === 'proof_malformed' && proof.includes(',')) return this.onlyOneProof();
      if (error.code === 'nonce_required') {
        const header = this.challenge('DPoP', 'use_dpop_nonce', error.description);
        return this.refusal(401, 'nonce_required', 'use_dpop_nonce', error.description, header, { 'dpop-nonce': error.nonce ?? '' });
      }
      const code = error.code === 'proof_replayed' ? 'proof_replayed' : 'invalid_proof';
      return this.unauthorized(code, 'invalid_dpop_proof', error.description, 'DPoP');
    }
    return undefined;
  }

  /** Scopes, then request-time policy. */
  private afterRevocation(
    token: VerifiedToken,
    scheme: 'DPoP' | 'Bearer',
    request: GuardRequest,
    options: CheckOptions,
    now: number,
  ): GuardResult | Promise<GuardResult> {
    const missing = missingScopes(token.scopes, this.requiredScopes, options.scopes);
    if (missing.length > 0) {
      const description = `This request needs scope ${missing.join(' ')}.`;
      const params = { realm: this.options.realm, error: 'insufficient_scope' as const, description, scope: missing, algs: this.algs };
      const header = formatChallenge(scheme, params);
      return this.refusal(403, 'insufficient_scope', 'insufficient_scope', description, header);
    }
    const allowed: GuardAllow = { ok: true, identity: token.identity };
    if (!this.decisions) return allowed;
    const refusal = this.authorize(token, request, now, scheme);
    if (refusal instanceof Promise) return refusal.then((r) => r ?? allowed);
    return refusal ?? allowed;
  }

  /** Policy for an otherwise accepted request; undefined when it allows. Synchronous when the decision is cached. */
  private authorize(
    token: VerifiedToken,
    request: GuardRequest,
    now: number,
    scheme: 'DPoP' | 'Bearer',
  ): GuardRefusal | undefined | Promise<GuardRefusal | undefined> {
    const path = pathOf(withoutQuery(request.url));
    const context: RequestContext = {
      method: request.method.toUpperCase(),
      path,
      route: request.route ?? path,
      ip: request.ip,
      userAgent: request.userAgent,
      now,
    };
    let decision: AuthorizationDecision | Promise<AuthorizationDecision>;
    try {
      decision = (this.decisions as DecisionCache).decide(token.identity, context, token.memo);
    } catch (error) {
      return this.policyFailed(error, token, context, scheme);
    }
    if (decision instanceof Promise) {
      return decision.then(
        (d) => this.judge(d, token, context, scheme),
        (error: unknown) => this.policyFailed(error, token, context, scheme),
      );
    }
    return this.judge(decision, token, context, scheme);
  }

  /**
   * A refusal by policy is 403 `insufficient_scope` (RFC 6750 §3.1: "the request requires higher privileges than
   * provided by the access token"), with the policy's reason as `error_description` in the body and the challenge.
   * The token itself is fine, so `invalid_token` (401) would wrongly tell the client to throw it away; `access_denied`
   * is not an RFC 6750 resource-server code; RFC 9470's `insufficient_user_authentication` means "authenticate
   * again, more strongly", which a forbid on a group, a path or a network cannot be cured by.
   */
  private judge(decision: AuthorizationDecision, token: VerifiedToken, context: RequestContext, scheme: 'DPoP' | 'Bearer'): GuardRefusal | undefined {
    if (decision.decision === 'allow') return undefined;
    // Who and what, and the policies that decided; never the token or the proof.
    this.logger.info(
      {
        sub: token.sub,
        client: token.clientId,
        grant: token.grantId,
        jti: token.jti,
        method: context.method,
        path: context.path,
        ip: context.ip,
        policies: decision.policies ?? [],
        cause: decision.cause,
        reason: decision.reason,
      },
      'guard: refused by policy',
    );
    return this.policyRefusal('policy_denied', decision.reason || 'Refused by policy.', scheme);
  }

  private policyFailed(error: unknown, token: VerifiedToken, context: RequestContext, scheme: 'DPoP' | 'Bearer'): GuardRefusal {
    // A policy that cannot be evaluated refuses: failing open here would bypass every rule at once.
    const fields = { err: (error as Error).message, sub: token.sub, jti: token.jti, method: context.method, path: context.path };
    this.logger.error(fields, 'guard: policy evaluation failed; refusing');
    return this.policyRefusal('policy_error', 'This request could not be checked against policy.', scheme);
  }

  private policyRefusal(code: 'policy_denied' | 'policy_error', description: string, scheme: 'DPoP' | 'Bearer'): GuardRefusal {
    const text = oauthText(description);
    const header = formatChallenge(scheme, { realm: this.options.realm, error: 'insufficient_scope', description: text, algs: this.algs });
    return this.refusal(403, code, 'insufficient_scope', text, header);
  }

  /** How much the guard holds: every count is bounded (by a size limit or by time). For metrics and tests. */
  stats(): { tokens: number; proofKeys: number; proofIds: number; decisions: number } {
    return { tokens: this.tokens.size, proofKeys: this.proofs.keyCount, proofIds: this.replay.size, decisions: this.decisions?.size ?? 0 };
  }

  /** Forgets cached policy decisions, e.g. after the claims policies read have changed. */
  clearDecisions(): void {
    this.decisions?.clear();
  }

  private tokenFailure(error: unknown, scheme: 'DPoP' | 'Bearer'): GuardRefusal {
    if (error instanceof KeysUnavailable) {
      this.logger.error({ err: error.message }, 'guard: the issuer keys are unavailable; refusing with 503');
      const description = 'The issuer keys cannot be fetched right now.';
      return this.refusal(503, 'keys_unavailable', 'temporarily_unavailable', description, undefined, { 'retry-after': '5' });
    }
    if (!(error instanceof TokenRejected)) throw error;
    const code: RefusalCode =
      error.code === 'token_expired' ? 'token_expired' : error.code === 'token_audience' ? 'wrong_audience' : 'invalid_token';
    // Whatever scheme was used, the way forward is a DPoP-bound token unless Bearer is accepted here.
    return this.unauthorized(code, 'invalid_token', error.description, scheme === 'Bearer' && this.allowBearer ? 'Bearer' : 'DPoP');
  }

  private onlyOneProof(): GuardRefusal {
    return this.unauthorized('invalid_proof', 'invalid_dpop_proof', 'Send exactly one DPoP proof.', 'DPoP');
  }

  private unauthorized(code: RefusalCode, error: GuardErrorCode, description: string, scheme: 'DPoP' | 'Bearer'): GuardRefusal {
    return this.refusal(401, code, error, description, this.challenge(scheme, error, description));
  }

  private challenge(scheme: 'DPoP' | 'Bearer', error: GuardErrorCode, description: string): string {
    return formatChallenge(scheme, { realm: this.options.realm, error, description, algs: this.algs });
  }

  private refusal(
    status: GuardRefusal['status'],
    code: RefusalCode,
    error: RefusalError,
    description: string,
    wwwAuthenticate: string | undefined,
    extra: Record<string, string> = {},
  ): GuardRefusal {
    const headers: Record<string, string> = { 'cache-control': NO_STORE, ...extra };
    if (wwwAuthenticate) headers['www-authenticate'] = wwwAuthenticate;
    return { ok: false, status, code, error, description, wwwAuthenticate, headers };
  }
}

/**
 * A policy's reason as an `error_description`: RFC 6750 §3 allows printable ASCII without `"` and `\\` only, and a
 * reason is free text in a policy file (typographic quotes and dashes are common), so those are spelled plainly.
 */
function oauthText(message: string): string {
  return message
    .replace(/["\u201C\u201D\u2018\u2019]/g, "'")
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/\u2026/g, '...')
    .replace(/\\/g, '/')
    .replace(/[^\x20-\x7E]/g, '?');
}

const NONE_MISSING: readonly string[] = Object.freeze([]);

/** The scopes of `required` and `extra` that `have` lacks, each once; allocates nothing when none is missing. */
function missingScopes(have: readonly string[], required: readonly string[], extra: readonly string[] | undefined): readonly string[] {
  let missing: string[] | undefined;
  for (const list of [required, extra]) {
    if (list === undefined) continue;
    for (const scope of list) if (!have.includes(scope) && !missing?.includes(scope)) (missing ??= []).push(scope);
  }
  return missing ?? NONE_MISSING;
}

function withoutQuery(url: string): string {
  const q = url.indexOf('?');
  const h = url.indexOf('#');
  const cut = q === -1 ? h : h === -1 ? q : Math.min(q, h);
  return cut === -1 ? url : url.slice(0, cut);
}

/** The path of an absolute URL without query: everything from the first slash after `scheme://host`. */
function pathOf(url: string): string {
  const start = url.indexOf('//');
  const slash = url.indexOf('/', start === -1 ? 0 : start + 2);
  return slash === -1 ? '/' : url.slice(slash);
}
