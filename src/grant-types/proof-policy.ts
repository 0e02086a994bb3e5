import type { Client } from '../clients/client.js';
import type { DpopNonces } from '../dpop/nonce.js';
import type { DpopVerifier, PendingProof, VerifiedProof } from '../dpop/proof.js';
import { InvalidDpopProof } from '../oauth/errors.js';
import type { TokenRequest } from './grant-type.js';

export interface ProofPolicy {
  dpop: DpopVerifier;
  /** Present when the server demands nonces at the token endpoint. */
  nonces?: DpopNonces;
}

/**
 * The token endpoint's DPoP rule: a proof, when sent, must be valid; none at all is acceptable only for a client
 * configured to get Bearer tokens (RFC 9449 §5 leaves that to policy; Tether's is DPoP by default).
 */
export async function checkTokenRequestProof(
  policy: ProofPolicy,
  client: Client,
  request: TokenRequest,
  now: number,
): Promise<VerifiedProof | undefined> {
  if (!request.dpopProof) {
    if (client.allowBearer) return undefined;
    throw new InvalidDpopProof('This client must prove possession of its key with a DPoP proof.');
  }
  return policy.dpop.verify(request.dpopProof, { htm: 'POST', htu: request.htu, now, nonces: policy.nonces });
}

/**
 * {@link checkTokenRequestProof} in two steps, for the device_code grant: every check but the signature now, the
 * signature once the code is read (see docs/architecture.md, "A pending poll's proof").
 */
export function inspectTokenRequestProof(
  policy: ProofPolicy,
  client: Client,
  request: TokenRequest,
  now: number,
): PendingProof | undefined {
  if (!request.dpopProof) {
    if (client.allowBearer) return undefined;
    throw new InvalidDpopProof('This client must prove possession of its key with a DPoP proof.');
  }
  return policy.dpop.inspect(request.dpopProof, { htm: 'POST', htu: request.htu, now, nonces: policy.nonces });
}
