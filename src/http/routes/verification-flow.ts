import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Authentication, User } from '../../users/user.js';
import type { BrowserSession, CarriedCode } from '../../verification/browser-session.js';
import type { FormParams } from '../../oauth/form-params.js';
import type { AccountView } from '../pages/account-bar.js';

/** A live browser session: its cookie value and what the store holds. */
export type Live = { id: string; session: BrowserSession };

export interface SignInPageExtras {
  error?: string;
  notice?: string;
  username?: string;
}

/**
 * What the verification page's routes share with the sign-in methods registered beside them (upstream providers,
 * passkeys): the session, CSRF, the sign-in page, and what happens once someone is signed in, so every method
 * continues the same way (a new session id, then the carried code or code entry).
 */
export interface VerificationFlow {
  session(request: FastifyRequest, reply: FastifyReply): Promise<Live>;
  /** The session of a POST from our own form (CSRF checked), or undefined after answering 403. */
  postedSession(request: FastifyRequest, reply: FastifyReply): Promise<(Live & { params: FormParams }) | undefined>;
  /** A cookie-named session, without starting one. */
  existingSession(request: FastifyRequest): Promise<Live | undefined>;
  send(reply: FastifyReply, body: string, status?: number, options?: { script?: boolean }): FastifyReply;
  signInPage(reply: FastifyReply, s: Live, carried: CarriedCode | undefined, status?: number, extra?: SignInPageExtras): FastifyReply;
  /** Opens a sealed carried code of this session: undefined for none, 'invalid' for a tampered one. */
  openCarried(s: Live, sealed: string | null | undefined): CarriedCode | undefined | 'invalid';
  signedIn(
    request: FastifyRequest,
    reply: FastifyReply,
    previous: Live,
    user: User,
    authentication: Authentication,
    carried: CarriedCode | undefined,
    /** When the person authenticated, if before now (an upstream provider's auth_time). */
    authTime?: number,
  ): Promise<unknown>;
  account(s: Live & { session: { userId: string } }): Promise<AccountView>;
}
