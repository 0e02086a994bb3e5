/**
 * What a poll offers to show it comes from the device: the signature of its DPoP proof, checked only if pacing
 * comes to depend on it (see {@link PollPacing.poll}).
 */
export interface PollWitness {
  /** Whether the poll's proof is signed by the key the code is bound to. */
  signatureHolds(): boolean;
}

/**
 * What the device_code grant needs to pace polls: the in-process PollPacer for one instance, or a store shared by
 * every instance on one database, so polls spread over several instances are paced as one.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5
 */
export interface PollPacing {
  /**
   * Whether {@link poll} takes a {@link PollWitness} in place of a checked signature for a bound code. A pacer
   * that cannot keep a poll's witness until the next poll (the shared one) says no, and gets checked proofs.
   */
  readonly defersSignatures: boolean;
  /**
   * Records a poll; throws SlowDown (and lengthens the interval) when it came too soon after the last one. With a
   * `witness` (a bound code's poll whose signature is not checked yet), a poll too soon is first shown to be the
   * device's (else InvalidDpopProof), and the poll before it too (else that one did not count).
   */
  poll(authorizationId: string, interval: number, expiresAt: number, witness?: PollWitness): void | Promise<void>;
  /** Forgets a code that was redeemed. */
  forget(authorizationId: string): void | Promise<void>;
  /** Drops state of codes that have expired. */
  sweep(): void | Promise<unknown>;
}
