import type { VerifiedToken } from './access-token.js';

/** Whether the guard's revocation knowledge is current; when it is not, the guard refuses every request (503). */
export type RevocationHealth =
  | { fresh: true }
  | {
      fresh: false;
      /** For the response body and the log. */
      reason: string;
      /** For Retry-After. */
      retryAfterSeconds: number;
    };

/**
 * What the guard asks about revocation: whether a token is revoked, and whether the answer can be trusted right
 * now. {@link RevocationStream} is the push implementation; anything else (a database lookup in the server's own
 * demo API) can stand in.
 */
export interface RevocationSource {
  health(): RevocationHealth;
  isRevoked(token: VerifiedToken): boolean | Promise<boolean>;
  /**
   * Optional: a number that changes whenever a token {@link isRevoked} said false for could now be revoked (a
   * statement arrived). While it stays the same, the guard reuses a token's last "not revoked" instead of asking
   * again. A source that cannot promise this leaves it out and is asked on every request.
   */
  version?(): number;
}
