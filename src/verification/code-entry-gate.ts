import type { Refusal } from './code-entry-limiter.js';

/**
 * What the verification page needs to rate-limit user-code entry: the in-process CodeEntryLimiter for one
 * instance, or counts shared by every instance on one database, so guesses spread over instances count once.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-5.1
 */
export interface CodeEntryGate {
  /** Whether one more guess may be checked now; a refusal says by which limit and for how long. */
  check(ip: string, sessionKey: string, liveCodes: number): Refusal | undefined | Promise<Refusal | undefined>;
  recordFailure(ip: string, sessionKey: string): void | Promise<void>;
  /** Forgets failures that have aged out. */
  sweep(): void | Promise<unknown>;
}
