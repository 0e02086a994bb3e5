import type { ClientCredentials, ClientRegistry } from '../clients/client-registry.js';
import type { GrantStore } from '../grants/grant.js';
import type { LifetimeDefaults } from '../grants/lifetime.js';
import type { Clock } from '../shared/clock.js';
import type { KeyRing } from '../tokens/signing-keys.js';
import type { ProofPolicy } from './proof-policy.js';
import type { PolicyGate } from '../policy-gate/policy-gate.js';
import type { RequestOrigin } from '../oauth/request-origin.js';
import type { FormParams } from '../oauth/form-params.js';

/** What a token request carries once the HTTP layer has parsed it. */
export interface TokenRequest {
  params: FormParams;
  credentials: ClientCredentials;
  context: RequestOrigin;
  /** The DPoP header, if exactly one was sent. */
  dpopProof: string | undefined;
  /** The token endpoint's URL, for the proof's htu. */
  htu: string;
}

/** @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1 */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

/** What every grant that issues tokens needs. */
export interface IssuingDeps {
  issuer: string;
  clients: ClientRegistry;
  grants: GrantStore;
  proofs: ProofPolicy;
  keys: KeyRing;
  clock: Clock;
  lifetimes: LifetimeDefaults;
  /** Asked before tokens are issued or refreshed. */
  policy: PolicyGate;
}

/** One grant type: its URI and its handler. Registered in one place, the composition root. */
export interface GrantType {
  readonly type: string;
  handle(request: TokenRequest): Promise<TokenResponse>;
}
