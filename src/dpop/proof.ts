import { InvalidDpopProof, UseDpopNonce } from '../oauth/errors.js';
import { accessTokenHash, JWS_ALGORITHMS } from './jws.js';
import type { DpopNonces } from './nonce.js';
import { ProofRejected, ProofVerifier, replayed, type VerifiedProof } from './proof-verifier.js';
import type { ReplayGuard } from './replay-guard.js';
import type { ReplayMark } from './replay-mark.js';

export type { VerifiedProof };

/** Asymmetric algorithms only (RFC 9449 §4.3 forbids none and MACs). */
export const DPOP_ALGORITHMS = JWS_ALGORITHMS;

export interface ProofExpectations {
  /** HTTP method of the request the proof must name. */
  htm: string;
  /** The request's URI; query and fragment are ignored. */
  htu: string;
  now: number;
  /** When an access token accompanies the proof, its value, for the `ath` check. */
  accessToken?: string;
  /** When the server demands nonces here, the checker of the proof's `nonce` claim. */
  nonces?: DpopNonces;
}

/**
 * The server's DPoP check: the shared {@link ProofVerifier} (the same one the guard and the gateway use), its
 * refusals as OAuth errors, and the replay {@link ReplayMark} that keeps proofs single-use across a restart.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-5
 */
export class DpopVerifier {
  private readonly proofs: ProofVerifier;

  constructor(
    private readonly replay: ReplayGuard,
    private readonly mark?: ReplayMark,
  ) {
    // The replay claim is made here, after every check, against a window that may be shared by several instances.
    this.proofs = new ProofVerifier({});
  }

  async verify(proof: string, expected: ProofExpectations): Promise<VerifiedProof> {
    return this.inspect(proof, expected).confirm();
  }

  /**
   * Every check but the signature now; the signature and the rest when the caller knows whether the signature
   * matters (see {@link ProofVerifier.inspect}).
   */
  inspect(proof: string, expected: ProofExpectations): PendingProof {
    const inspected = refusals(() =>
      this.proofs.inspect(proof, {
        htm: expected.htm,
        htu: expected.htu,
        now: expected.now,
        ath: expected.accessToken === undefined ? undefined : accessTokenHash(expected.accessToken),
        nonces: expected.nonces,
        notAfterIat: this.mark?.previous,
      }),
    );
    const finish = async (signature: boolean): Promise<VerifiedProof> => {
      const checked = refusals(() => this.proofs.complete(inspected, signature));
      // Claimed last, after every check that can fail, so a refused proof cannot use up a client's jti.
      if (!(await this.replay.claim(checked.replayKey, checked.replayUntil))) throw new InvalidDpopProof(replayed().description);
      return { jkt: checked.jkt, jti: checked.jti, iat: checked.iat };
    };
    return {
      jkt: inspected.jkt,
      confirm: async () => {
        const verified = await finish(true);
        // Answer only once the mark covers this proof, so a crash right after cannot make it acceptable again.
        const stored = this.mark?.record(verified.iat);
        if (stored) await stored;
        return verified;
      },
      // Not recorded in the mark: a proof accepted unsigned is worth nothing a replay after a restart could reuse.
      acceptUnsigned: () => finish(false),
      signatureHolds: () => this.proofs.signatureHolds(inspected),
    };
  }
}

/** Runs a verifier step with its refusals as OAuth errors. */
function refusals<T>(step: () => T): T {
  try {
    return step();
  } catch (error) {
    if (!(error instanceof ProofRejected)) throw error;
    if (error.code === 'nonce_required' && error.nonce !== undefined) throw new UseDpopNonce(error.nonce);
    throw new InvalidDpopProof(error.description);
  }
}

/** A proof whose signature is not checked yet: see {@link DpopVerifier.inspect}. */
export interface PendingProof {
  /** The thumbprint of the key the proof names; not yet shown to be held by the sender. */
  readonly jkt: string;
  /** The signature and every remaining check, the replay claim last: the proof is then verified in full. */
  confirm(): Promise<VerifiedProof>;
  /** Everything but the signature, the replay claim included: only where the answer depends on nothing the signature proves. */
  acceptUnsigned(): Promise<VerifiedProof>;
  /**
   * The signature check alone, for a proof accepted unsigned whose signature comes to matter later (a pending
   * poll's, when pacing would refuse it: see docs/architecture.md, "A pending poll's proof").
   */
  signatureHolds(): boolean;
}
