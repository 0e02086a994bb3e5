import { createHmac } from 'node:crypto';
import { constantTimeEqual, hashSecret, randomToken } from '../shared/crypto.js';
import type { Clock } from '../shared/clock.js';
import type { Authentication } from '../users/user.js';

/** A browser's session on the verification page, signed in or not. Stored by the hash of its cookie value. */
export interface BrowserSession {
  idHash: string;
  userId: string | null;
  authTime: number | null;
  /** How the person signed in; null before sign-in. */
  authentication: Authentication | null;
  createdAt: number;
  expiresAt: number;
}

export interface BrowserSessionStore {
  insertSession(session: BrowserSession): Promise<void>;
  findSession(idHash: string): Promise<BrowserSession | undefined>;
  deleteSession(idHash: string): Promise<void>;
  deleteExpiredSessions(before: number): Promise<number>;
}

/** A user code carried through sign-in, and how it came. */
export interface CarriedCode {
  via: 'link' | 'typed';
  /** Normalized. */
  code: string;
}

/** A sign-in is good for approving devices for one hour; then the person signs in again. */
const SESSION_TTL = 3600;

/**
 * Sessions and their CSRF tokens. The cookie holds a random id; the store holds only its hash, so a copy of the
 * database cannot be replayed as a cookie. The CSRF token is an HMAC of the session id (synchronizer pattern
 * without storage).
 */
export class BrowserSessions {
  constructor(
    private readonly store: BrowserSessionStore,
    private readonly clock: Clock,
    private readonly csrfKey: string,
  ) {}

  /** The session the cookie names, if it is live. */
  async find(cookie: string | undefined): Promise<{ id: string; session: BrowserSession } | undefined> {
    if (!cookie || cookie.length > 100) return undefined;
    const session = await this.store.findSession(hashSecret(cookie));
    if (!session || session.expiresAt <= this.clock.now()) return undefined;
    return { id: cookie, session };
  }

  async start(): Promise<{ id: string; session: BrowserSession }> {
    return this.insert(null, null);
  }

  /**
   * Signing in replaces the session id, so an id planted before sign-in is worthless after it. `authTime` is when
   * the person authenticated, if earlier than now (an upstream provider's `auth_time`: its session may be old).
   */
  async signIn(previousId: string | undefined, userId: string, authentication: Authentication, authTime?: number) {
    if (previousId) await this.store.deleteSession(hashSecret(previousId));
    return this.insert(userId, authentication, authTime);
  }

  async signOut(id: string): Promise<void> {
    await this.store.deleteSession(hashSecret(id));
  }

  csrfToken(sessionId: string): string {
    return createHmac('sha256', this.csrfKey).update(`csrf:${sessionId}`).digest('base64url');
  }

  /**
   * Ties a device request the person reached by its code to this session. Later forms (sign-in, approve, deny)
   * carry this seal instead of the code, so they cannot be used to guess codes past the entry rate limits.
   */
  sealRequest(sessionId: string, authorizationId: string): string {
    return `${authorizationId}.${createHmac('sha256', this.csrfKey).update(`request:${sessionId}:${authorizationId}`).digest('base64url')}`;
  }

  /** The device request id a seal names, if it was made for this session. */
  openRequest(sessionId: string, sealed: string | undefined): string | undefined {
    const id = sealed?.split('.')[0];
    if (!sealed || !id) return undefined;
    return constantTimeEqual(sealed, this.sealRequest(sessionId, id)) ? id : undefined;
  }

  /**
   * Carries a user code through sign-in (the person signs in before any code is checked). `link` marks a code that
   * came in verification_uri_complete, which the person must still confirm against the device after signing in;
   * `typed` one they typed themselves. Sealed to this session, so the sign-in form cannot be fed codes to test.
   */
  sealCode(sessionId: string, carried: CarriedCode): string {
    const value = `${carried.via}.${carried.code}`;
    return `${value}.${createHmac('sha256', this.csrfKey).update(`code:${sessionId}:${value}`).digest('base64url')}`;
  }

  /** The code a seal carries, if it was made for this session; `invalid` for a seal that was tampered with. */
  openCode(sessionId: string, sealed: string | undefined): CarriedCode | undefined | 'invalid' {
    if (!sealed) return undefined;
    const [via, code] = sealed.split('.');
    if ((via !== 'link' && via !== 'typed') || !code) return 'invalid';
    return constantTimeEqual(sealed, this.sealCode(sessionId, { via, code })) ? { via, code } : 'invalid';
  }

  checkCsrf(sessionId: string, token: string | undefined): boolean {
    return token !== undefined && constantTimeEqual(token, this.csrfToken(sessionId));
  }

  private async insert(userId: string | null, authentication: Authentication | null, authTime?: number) {
    const id = randomToken(32);
    const now = this.clock.now();
    const session: BrowserSession = {
      idHash: hashSecret(id),
      userId,
      authTime: userId ? Math.min(now, authTime ?? now) : null,
      authentication,
      createdAt: now,
      expiresAt: now + SESSION_TTL,
    };
    await this.store.insertSession(session);
    return { id, session };
  }
}
