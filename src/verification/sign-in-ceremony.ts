import { hashSecret, randomToken } from '../shared/crypto.js';
import type { Clock } from '../shared/clock.js';

/** What a ceremony is for; a handle made for one kind is never accepted for another. */
export type CeremonyKind = 'upstream' | 'passkey_sign_in' | 'passkey_register';

/** One pending sign-in step, stored by the hash of its handle and bound to the hash of the browser session id. */
export interface StoredCeremony {
  idHash: string;
  sessionHash: string;
  kind: CeremonyKind;
  /** What the step needs back (a nonce, a PKCE verifier, a challenge, the carried code's seal). */
  data: Record<string, string>;
  expiresAt: number;
}

export interface SignInCeremonyStore {
  insertCeremony(ceremony: StoredCeremony): Promise<void>;
  /**
   * Deletes and returns the ceremony only if it is this session's, of this kind and live: one atomic step, so a
   * handle is used at most once even by two requests at the same moment.
   */
  takeCeremony(idHash: string, sessionHash: string, kind: CeremonyKind, now: number): Promise<Record<string, string> | undefined>;
  deleteExpiredCeremonies(before: number): Promise<number>;
}

/** An upstream sign-in or a passkey prompt must finish within ten minutes. */
const CEREMONY_TTL = 600;

/**
 * The single-use state of sign-in steps that leave the page and come back: an upstream provider's `state` (with
 * its nonce and PKCE verifier, OpenID Connect Core §3.1.2.1 and RFC 7636), a WebAuthn challenge. Only the hash of
 * the handle is stored, and a handle is accepted once, within its lifetime, from the browser session it was made for.
 */
export class SignInCeremonies {
  constructor(
    private readonly store: SignInCeremonyStore,
    private readonly clock: Clock,
  ) {}

  /** Starts a ceremony; the handle is `handle` if given (a WebAuthn challenge), else a fresh random one. */
  async begin(sessionId: string, kind: CeremonyKind, data: Record<string, string>, handle = randomToken(32)): Promise<string> {
    await this.store.insertCeremony({
      idHash: hashSecret(handle),
      sessionHash: hashSecret(sessionId),
      kind,
      data,
      expiresAt: this.clock.now() + CEREMONY_TTL,
    });
    return handle;
  }

  /** Ends the ceremony the handle names, if this session started it and it is live; undefined otherwise. */
  take(sessionId: string | undefined, kind: CeremonyKind, handle: string | undefined): Promise<Record<string, string> | undefined> {
    if (!sessionId || !handle || handle.length > 200) return Promise.resolve(undefined);
    return this.store.takeCeremony(hashSecret(handle), hashSecret(sessionId), kind, this.clock.now());
  }

  sweep(): Promise<number> {
    return this.store.deleteExpiredCeremonies(this.clock.now());
  }
}
