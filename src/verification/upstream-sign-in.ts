import * as oidc from 'openid-client';
import type { AuditLog } from '../audit/event.js';
import type { RequestOrigin } from '../oauth/request-origin.js';
import type { Clock } from '../shared/clock.js';
import type { UpstreamIdentity } from '../users/upstream-users.js';
import type { Authentication, User } from '../users/user.js';
import type { SignInCeremonies } from './sign-in-ceremony.js';

/** An upstream OpenID Connect provider as configured (`upstream_providers`, docs/sign-in.md). */
export interface UpstreamProvider {
  name: string;
  /** "Sign in with <label>". */
  label: string;
  issuer: URL;
  clientId: string;
  /** Absent for a public client (PKCE only). */
  clientSecret?: string;
  scopes: readonly string[];
  claims: { username: string; displayName: string; groups: string };
  /** Lower case; empty means any domain. */
  allowedEmailDomains: readonly string[];
  mfaAmr: readonly string[];
  phishingResistantAmr: readonly string[];
  mfaAcr: readonly string[];
  phishingResistantAcr: readonly string[];
  /** Seconds a request to the provider may take. */
  timeout: number;
}

export type UpstreamStart =
  | { status: 'redirect'; url: string }
  | { status: 'unknown_provider' }
  | { status: 'provider_down'; provider: UpstreamProvider };

/** Why an upstream sign-in did not sign anyone in; each is a page of its own (docs/sign-in.md). */
export type UpstreamFailure =
  /** No live ceremony for this state in this browser: forged, replayed, expired or from another browser. */
  | 'bad_state'
  /** The provider answered the authorization request with an error (the person cancelled, or was refused). */
  | 'provider_refused'
  /** The provider's answer did not verify: a wrong nonce, another issuer, a bad signature, a refused code. */
  | 'rejected'
  | 'email_unverified'
  | 'domain_not_allowed'
  /** The ID token lacks a claim the mapping needs (the username). */
  | 'missing_claim'
  /** Discovery or the token endpoint could not be reached, timed out or failed. */
  | 'provider_down';

export type UpstreamFinish =
  | { status: 'signed_in'; user: User; authentication: Authentication; carry: string | undefined; authTime: number | undefined }
  | { status: 'unknown_provider' }
  | { status: UpstreamFailure; provider: UpstreamProvider; carry?: string | undefined };

/** Where people an upstream sign-in names are created or refreshed (users/upstream-users.ts). */
export interface UpstreamProvisioning {
  provision(identity: UpstreamIdentity, now: number): Promise<User>;
}

export interface UpstreamSignInDeps {
  providers: readonly UpstreamProvider[];
  ceremonies: SignInCeremonies;
  users: UpstreamProvisioning;
  audit: AuditLog;
  clock: Clock;
  /** The callback URL registered at the provider for this provider name. */
  redirectUri: (name: string) => string;
}

/**
 * Sign-in through an upstream OpenID Connect provider: the authorization code flow with PKCE (RFC 7636), `state`
 * and `nonce` (OpenID Connect Core §3.1), done by openid-client. The state, nonce and verifier are one single-use
 * ceremony bound to the browser session, so a callback only signs in the browser that started it, once. The person
 * is provisioned just in time, with the groups the claims give.
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth
 */
export class UpstreamSignIn {
  private readonly byName: Map<string, UpstreamProvider>;
  private readonly discovered = new Map<string, Promise<oidc.Configuration>>();

  constructor(private readonly deps: UpstreamSignInDeps) {
    this.byName = new Map(deps.providers.map((p) => [p.name, p]));
  }

  providers(): readonly UpstreamProvider[] {
    return this.deps.providers;
  }

  /** Creates the ceremony and the provider's authorization URL. `carry` is the sealed code riding through. */
  async start(name: string, sessionId: string, carry: string | undefined): Promise<UpstreamStart> {
    const provider = this.byName.get(name);
    if (!provider) return { status: 'unknown_provider' };
    let config: oidc.Configuration;
    try {
      config = await this.configuration(provider);
    } catch {
      return { status: 'provider_down', provider };
    }
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const state = await this.deps.ceremonies.begin(sessionId, 'upstream', {
      provider: name,
      nonce,
      verifier,
      ...(carry ? { carry } : {}),
    });
    const scopes = new Set(['openid', ...provider.scopes]);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.deps.redirectUri(name),
      scope: [...scopes].join(' '),
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    return { status: 'redirect', url: url.href };
  }

  /** Finishes at the callback: checks the ceremony, redeems the code, verifies the ID token, provisions the person. */
  async finish(name: string, sessionId: string | undefined, callback: URL, origin: RequestOrigin): Promise<UpstreamFinish> {
    const provider = this.byName.get(name);
    if (!provider) return { status: 'unknown_provider' };
    const state = callback.searchParams.get('state') ?? undefined;
    // The ceremony is taken (deleted) first: whatever follows, this state never works again.
    const ceremony = await this.deps.ceremonies.take(sessionId, 'upstream', state);
    if (!ceremony || ceremony['provider'] !== name || !ceremony['nonce'] || !ceremony['verifier']) {
      return this.fail(provider, 'bad_state', origin, undefined);
    }
    const carry = ceremony['carry'];
    if (callback.searchParams.has('error')) return this.fail(provider, 'provider_refused', origin, carry);
    let claims: oidc.IDToken;
    try {
      const config = await this.configuration(provider);
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: ceremony['verifier'],
        expectedState: state,
        expectedNonce: ceremony['nonce'],
        idTokenExpected: true,
      });
      const idToken = tokens.claims();
      if (!idToken) return this.fail(provider, 'rejected', origin, carry);
      claims = idToken;
    } catch (error) {
      return this.fail(provider, isUnreachable(error) ? 'provider_down' : 'rejected', origin, carry, error);
    }
    const email = typeof claims['email'] === 'string' ? claims['email'] : null;
    if (provider.allowedEmailDomains.length > 0 || email !== null) {
      // An email only counts when the provider vouches for it (OpenID Connect Core §5.1 email_verified).
      if (email === null || claims['email_verified'] !== true) return this.fail(provider, 'email_unverified', origin, carry);
      const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
      if (provider.allowedEmailDomains.length > 0 && !provider.allowedEmailDomains.includes(domain)) {
        return this.fail(provider, 'domain_not_allowed', origin, carry);
      }
    }
    const username = stringClaim(claims[provider.claims.username]) ?? email;
    if (!username) return this.fail(provider, 'missing_claim', origin, carry);
    const user = await this.deps.users.provision(
      {
        provider: name,
        subject: claims.sub,
        username,
        displayName: stringClaim(claims[provider.claims.displayName]) ?? username,
        email,
        groups: groupsOf(claims[provider.claims.groups]),
      },
      this.deps.clock.now(),
    );
    const authentication = authenticationOf(provider, claims);
    await this.deps.audit.record([
      {
        type: 'user.signed_in',
        at: this.deps.clock.now(),
        userId: user.id,
        data: {
          ip: origin.ip,
          user_agent: origin.userAgent,
          method: authentication.method,
          acr: authentication.acr,
          amr: authentication.amr,
          mfa: authentication.mfa,
          phishing_resistant: authentication.phishingResistant,
          groups: user.groups,
        },
      },
    ]);
    // The provider's auth_time: a sign-in there hours ago is not a recent sign-in here, whatever its SSO session says.
    const authTime = typeof claims.auth_time === 'number' && Number.isFinite(claims.auth_time) ? Math.floor(claims.auth_time) : undefined;
    return { status: 'signed_in', user, authentication, carry, authTime };
  }

  /** Discovery once per provider; a failure is forgotten, so the next sign-in tries again. */
  private configuration(provider: UpstreamProvider): Promise<oidc.Configuration> {
    let found = this.discovered.get(provider.name);
    if (!found) {
      const metadata: Partial<oidc.ClientMetadata> = provider.clientSecret !== undefined ? { client_secret: provider.clientSecret } : {};
      const auth = provider.clientSecret !== undefined ? oidc.ClientSecretBasic(provider.clientSecret) : oidc.None();
      // The ID token's signature is checked against the provider's JWKS too, not only trusted for arriving over
      // TLS from the token endpoint (OpenID Connect Core §3.1.3.7 allows that; a misrouted proxy would not).
      const execute = [oidc.enableNonRepudiationChecks];
      // Plain http only for a provider on this machine (tests, a local Keycloak); the config refuses it elsewhere.
      if (provider.issuer.protocol === 'http:') execute.push(oidc.allowInsecureRequests);
      found = oidc.discovery(provider.issuer, provider.clientId, metadata, auth, { timeout: provider.timeout, execute });
      found.catch(() => this.discovered.delete(provider.name));
      this.discovered.set(provider.name, found);
    }
    return found;
  }

  private async fail(provider: UpstreamProvider, reason: UpstreamFailure, origin: RequestOrigin, carry: string | undefined, error?: unknown): Promise<UpstreamFinish> {
    await this.deps.audit.record([
      {
        type: 'user.sign_in_failed',
        at: this.deps.clock.now(),
        data: {
          ip: origin.ip,
          user_agent: origin.userAgent,
          method: `upstream:${provider.name}`,
          reason,
          // The library's error code (never a token or a code): what an operator needs to tell causes apart.
          ...(error instanceof oidc.ClientError && error.code ? { detail: error.code } : {}),
          ...(error instanceof oidc.ResponseBodyError ? { detail: error.error } : {}),
        },
      },
    ]);
    return { status: reason, provider, carry };
  }
}

/** mfa and phishingResistant from the provider's amr and acr through the configured mapping (docs/sign-in.md). */
export function authenticationOf(provider: UpstreamProvider, claims: oidc.IDToken): Authentication {
  const amr = Array.isArray(claims.amr) ? claims.amr.filter((v): v is string => typeof v === 'string') : [];
  const acr = typeof claims.acr === 'string' ? claims.acr : '';
  const phishingResistant = amr.some((v) => provider.phishingResistantAmr.includes(v)) || (acr !== '' && provider.phishingResistantAcr.includes(acr));
  const mfa = phishingResistant || amr.some((v) => provider.mfaAmr.includes(v)) || (acr !== '' && provider.mfaAcr.includes(acr));
  return { method: `upstream:${provider.name}`, mfa, phishingResistant, acr, amr };
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim().slice(0, 256) : undefined;
}

/** Groups as providers send them: an array of strings, or one string. */
function groupsOf(value: unknown): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (!Array.isArray(value)) return [];
  return value.filter((g): g is string => typeof g === 'string' && g !== '').slice(0, 256);
}

/** A network failure, a timeout or a 5xx: the provider is down, not lying. */
function isUnreachable(error: unknown): boolean {
  if (error instanceof TypeError) return true;
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return true;
  if (error instanceof oidc.ClientError && error.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM') {
    const cause = error.cause;
    return cause instanceof Response && cause.status >= 500;
  }
  return false;
}
