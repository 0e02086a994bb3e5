import { decodeJwt, errors, importJWK, jwtVerify, type JWK } from 'jose';
import { JWT_BEARER_GRANT } from '../oauth/grant-types.js';
import { InvalidDpopProof, InvalidGrant } from '../oauth/errors.js';
import { hashSecret } from '../shared/crypto.js';
import type { Clock } from '../shared/clock.js';
import { algorithmFor } from '../workloads/public-key.js';
import { workloadIdOf, type WorkloadStore } from '../workloads/workload.js';
import { issueWorkloadToken, type ExchangeResponse, type WorkloadTokenDeps } from '../workloads/workload-tokens.js';
import type { GrantType, TokenRequest } from './grant-type.js';
import type { ProofPolicy } from './proof-policy.js';

/** An assertion is a one-time proof, not a credential to keep: it may live at most this long (seconds). */
const MAX_ASSERTION_LIFETIME = 300;

export interface JwtBearerGrantDeps {
  issuer: string;
  proofs: ProofPolicy;
  clock: Clock;
  workloads: WorkloadStore;
  issuing: WorkloadTokenDeps;
}

/**
 * RFC 7523 §2.1, the JWT bearer authorization grant, for key-bound workloads: the workload signs a short assertion
 * with the key it made where it runs (only the public key was ever registered), `iss` and `sub` both
 * `workload:<id>`, `aud` the token endpoint (or the issuer), `exp` at most 5 minutes ahead, and a `jti` that is refused
 * a second time while the assertion lives. Chosen over client_credentials with private_key_jwt because a workload
 * is not an OAuth client of the configuration: the assertion *is* the grant (RFC 7523 §3), and the workload is its
 * subject. The request carries a DPoP proof, and the token is bound to its key. Refusals are `invalid_grant`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.1
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-3
 */
export class JwtBearerGrant implements GrantType {
  readonly type = JWT_BEARER_GRANT;

  constructor(private readonly deps: JwtBearerGrantDeps) {}

  async handle(request: TokenRequest): Promise<ExchangeResponse> {
    const { deps } = this;
    const assertion = request.params.require('assertion');
    const now = deps.clock.now();
    if (!request.dpopProof) throw new InvalidDpopProof('A workload must send a DPoP proof: the token it gets is bound to that key.');
    const proof = await deps.proofs.dpop.verify(request.dpopProof, { htm: 'POST', htu: request.htu, now, nonces: deps.proofs.nonces });

    let sub: unknown;
    try {
      sub = decodeJwt(assertion).sub;
    } catch {
      throw new InvalidGrant('assertion: not a JWT.');
    }
    const id = typeof sub === 'string' ? workloadIdOf(sub) : undefined;
    const workload = id === undefined ? undefined : await deps.workloads.find(id);
    if (!workload || workload.proof.method !== 'key' || workload.status === 'deleted') {
      throw new InvalidGrant('assertion: its subject is not a key-bound workload.');
    }
    const alg = algorithmFor(workload.proof.publicJwk);
    let payload;
    try {
      const key = await importJWK(workload.proof.publicJwk as JWK, alg);
      ({ payload } = await jwtVerify(assertion, key, {
        issuer: String(sub),
        subject: String(sub),
        audience: [deps.issuer, request.htu],
        algorithms: [alg],
        currentDate: new Date(now * 1000),
        maxTokenAge: MAX_ASSERTION_LIFETIME,
        requiredClaims: ['exp', 'iat', 'jti'],
      }));
    } catch (error) {
      throw new InvalidGrant(`assertion: ${reasonOf(error)}`);
    }
    const exp = payload.exp as number;
    if (exp > now + MAX_ASSERTION_LIFETIME) throw new InvalidGrant('assertion: it must expire within 5 minutes.');
    if (typeof payload.jti !== 'string' || payload.jti.length < 8) throw new InvalidGrant('assertion: jti must be a unique value of 8 characters or more.');
    const jtiHash = hashSecret(`${String(sub)}\n${payload.jti}`);
    return issueWorkloadToken(deps.issuing, {
      workload,
      jkt: proof.jkt,
      params: request.params,
      context: request.context,
      authentication: { method: 'key', subject: String(sub), jtiHash },
      refused: (description) => new InvalidGrant(description),
      jtiExpiresAt: exp,
    });
  }
}

function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'it has expired.';
  if (error instanceof errors.JWTClaimValidationFailed) return `the ${error.claim} claim is missing or invalid.`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'it is not signed by the workload\'s registered key.';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'its algorithm does not match the registered key.';
  return 'it could not be verified.';
}
