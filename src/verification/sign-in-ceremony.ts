import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { hashSecret, randomToken } from '../shared/crypto.js';
import type { Clock } from '../shared/clock.js';

/** What a ceremony is for; a handle made for one kind is never accepted for another. */
export type CeremonyKind = 'upstream' | 'passkey_sign_in' | 'passkey_register';

/** One pending sign-in step, stored by the hash of its handle and bound to the hash of the browser session id. */
export interface StoredCeremony {
  idHash: string;
  sessionHash: string;
  kind: CeremonyKind;
  /**
   * What the step needs back (a nonce, a PKCE verifier, the carried code's seal), sealed with AES-256-GCM under a
   * key derived from the handle, which is stored only as a hash: a copy of the database cannot read it.
   */
  sealed: string;
  expiresAt: number;
}

export interface SignInCeremonyStore {
  insertCeremony(ceremony: StoredCeremony): Promise<void>;
  /**
   * Deletes and returns the ceremony only if it is this session's, of this kind and live: one atomic step, so a
   * handle is used at most once even by two requests at the same moment.
   */
  takeCeremony(idHash: string, sessionHash: string, kind: CeremonyKind, now: number): Promise<string | undefined>;
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
      sealed: seal(handle, kind, data),
      expiresAt: this.clock.now() + CEREMONY_TTL,
    });
    return handle;
  }

  /** Ends the ceremony the handle names, if this session started it and it is live; undefined otherwise. */
  async take(sessionId: string | undefined, kind: CeremonyKind, handle: string | undefined): Promise<Record<string, string> | undefined> {
    if (!sessionId || !handle || handle.length > 200) return undefined;
    const sealed = await this.store.takeCeremony(hashSecret(handle), hashSecret(sessionId), kind, this.clock.now());
    return sealed === undefined ? undefined : open(handle, kind, sealed);
  }

  sweep(): Promise<number> {
    return this.store.deleteExpiredCeremonies(this.clock.now());
  }
}

function keyOf(handle: string): Buffer {
  return createHash('sha256').update(`tether sign-in ceremony:${handle}`).digest();
}

function seal(handle: string, kind: CeremonyKind, data: Record<string, string>): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyOf(handle), iv).setAAD(Buffer.from(kind));
  const body = Buffer.concat([cipher.update(JSON.stringify(data), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

function open(handle: string, kind: CeremonyKind, sealed: string): Record<string, string> | undefined {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', keyOf(handle), raw.subarray(0, 12)).setAAD(Buffer.from(kind));
    decipher.setAuthTag(raw.subarray(12, 28));
    const parsed: unknown = JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return undefined;
  }
}
