import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { AuditLog } from '../audit/event.js';
import type { RequestOrigin } from '../oauth/request-origin.js';
import type { Clock } from '../shared/clock.js';
import type { Authentication, User, UserDirectory } from '../users/user.js';
import type { SignInCeremonies } from './sign-in-ceremony.js';

/** A local account's WebAuthn credential. The public key is not secret: it is read back to verify. */
export interface Passkey {
  /** base64url credential id. */
  id: string;
  userId: string;
  publicKey: Uint8Array;
  counter: number;
  transports: readonly string[];
  /** "multiDevice" for a synced passkey, "singleDevice" for one bound to its authenticator. */
  deviceType: string;
  backedUp: boolean;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface PasskeyStore {
  insertPasskey(passkey: Passkey): Promise<void>;
  findPasskey(id: string): Promise<Passkey | undefined>;
  listPasskeys(userId: string): Promise<Passkey[]>;
  /** Records a use: the new signature counter and the time. */
  usePasskey(id: string, counter: number, at: number): Promise<void>;
  /** Deletes one of this user's passkeys; false when it is not theirs. */
  deletePasskey(userId: string, id: string): Promise<boolean>;
}

export interface PasskeysDeps {
  store: PasskeyStore;
  ceremonies: SignInCeremonies;
  users: UserDirectory;
  audit: AuditLog;
  clock: Clock;
  /** The relying party: the issuer's host name (RP ID) and origin (WebAuthn §5.1.3, §7.1). */
  rpId: string;
  origin: string;
  rpName: string;
}

export type PasskeySignInOutcome = { status: 'signed_in'; user: User; authentication: Authentication } | { status: 'refused' };

/** A passkey sign-in: possession of the key and, since verification is required, a PIN or biometric on it. */
function passkeyAuthentication(passkey: Passkey): Authentication {
  return { method: 'passkey', mfa: true, phishingResistant: true, acr: '', amr: [passkey.backedUp ? 'swk' : 'hwk', 'user', 'mfa'] };
}

/** At most this many passkeys per account. */
const MAX_PASSKEYS = 10;

/**
 * Passkeys for local accounts (WebAuthn Level 3 through @simplewebauthn/server): registration by a person already
 * signed in with their password, then sign-in without one. User verification is required both times, and each
 * challenge is a single-use ceremony bound to the browser session.
 *
 * @see https://www.w3.org/TR/webauthn-3/#sctn-registering-a-new-credential
 * @see https://www.w3.org/TR/webauthn-3/#sctn-verifying-assertion
 */
export class Passkeys {
  constructor(private readonly deps: PasskeysDeps) {}

  list(userId: string): Promise<Passkey[]> {
    return this.deps.store.listPasskeys(userId);
  }

  async registrationOptions(sessionId: string, user: User): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.deps.store.listPasskeys(user.id);
    const options = await generateRegistrationOptions({
      rpName: this.deps.rpName,
      rpID: this.deps.rpId,
      userName: user.username,
      userDisplayName: user.displayName,
      userID: new TextEncoder().encode(user.id),
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports as AuthenticatorTransportFuture[] })),
      // A discoverable credential, so sign-in needs no username; verification (PIN, biometric) on the key.
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    });
    await this.deps.ceremonies.begin(sessionId, 'passkey_register', { user: user.id }, options.challenge);
    return options;
  }

  /** Verifies a registration made in this session for this user; the name is what the list page shows. */
  async register(sessionId: string, user: User, response: unknown, name: string, origin: RequestOrigin): Promise<'registered' | 'refused' | 'too_many'> {
    if (!isCredential(response)) return 'refused';
    const ceremony = await this.deps.ceremonies.take(sessionId, 'passkey_register', challengeOf(response));
    if (!ceremony || ceremony['user'] !== user.id) return 'refused';
    if ((await this.deps.store.listPasskeys(user.id)).length >= MAX_PASSKEYS) return 'too_many';
    let verified;
    try {
      verified = await verifyRegistrationResponse({
        response: response as unknown as RegistrationResponseJSON,
        expectedChallenge: challengeOf(response) ?? '',
        expectedOrigin: this.deps.origin,
        expectedRPID: this.deps.rpId,
        requireUserVerification: true,
      });
    } catch {
      return 'refused';
    }
    if (!verified.verified) return 'refused';
    const { credential, credentialDeviceType, credentialBackedUp } = verified.registrationInfo;
    if (await this.deps.store.findPasskey(credential.id)) return 'refused';
    const now = this.deps.clock.now();
    await this.deps.store.insertPasskey({
      id: credential.id,
      userId: user.id,
      publicKey: credential.publicKey,
      counter: credential.counter,
      transports: credential.transports ?? [],
      deviceType: credentialDeviceType,
      backedUp: credentialBackedUp,
      name: name.trim().slice(0, 60) || 'Passkey',
      createdAt: now,
      lastUsedAt: null,
    });
    await this.deps.audit.record([
      { type: 'passkey.registered', at: now, userId: user.id, data: { credential_id: credential.id, device_type: credentialDeviceType, ip: origin.ip, user_agent: origin.userAgent } },
    ]);
    return 'registered';
  }

  /** Options for a sign-in with any of the passkeys on the person's device (discoverable credentials). */
  async signInOptions(sessionId: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const options = await generateAuthenticationOptions({ rpID: this.deps.rpId, userVerification: 'required', allowCredentials: [] });
    await this.deps.ceremonies.begin(sessionId, 'passkey_sign_in', {}, options.challenge);
    return options;
  }

  async signIn(sessionId: string, response: unknown, origin: RequestOrigin): Promise<PasskeySignInOutcome> {
    const refuse = async (reason: string): Promise<PasskeySignInOutcome> => {
      await this.deps.audit.record([
        { type: 'user.sign_in_failed', at: this.deps.clock.now(), data: { ip: origin.ip, user_agent: origin.userAgent, method: 'passkey', reason } },
      ]);
      return { status: 'refused' };
    };
    if (!isCredential(response)) return refuse('malformed');
    const ceremony = await this.deps.ceremonies.take(sessionId, 'passkey_sign_in', challengeOf(response));
    if (!ceremony) return refuse('unknown_challenge');
    const passkey = await this.deps.store.findPasskey(response.id);
    if (!passkey) return refuse('unknown_passkey');
    let verified;
    try {
      verified = await verifyAuthenticationResponse({
        response: response as unknown as AuthenticationResponseJSON,
        expectedChallenge: challengeOf(response) ?? '',
        expectedOrigin: this.deps.origin,
        expectedRPID: this.deps.rpId,
        credential: { id: passkey.id, publicKey: new Uint8Array(passkey.publicKey), counter: passkey.counter, transports: passkey.transports as AuthenticatorTransportFuture[] },
        requireUserVerification: true,
      });
    } catch {
      return refuse('not_verified');
    }
    if (!verified.verified) return refuse('not_verified');
    const user = await this.deps.users.find(passkey.userId);
    if (!user) return refuse('unknown_user');
    const now = this.deps.clock.now();
    await this.deps.store.usePasskey(passkey.id, verified.authenticationInfo.newCounter, now);
    const authentication = passkeyAuthentication(passkey);
    await this.deps.audit.record([
      { type: 'user.signed_in', at: now, userId: user.id, data: { ip: origin.ip, user_agent: origin.userAgent, method: 'passkey', credential_id: passkey.id } },
    ]);
    return { status: 'signed_in', user, authentication };
  }

  async remove(user: User, id: string, origin: RequestOrigin): Promise<boolean> {
    const removed = await this.deps.store.deletePasskey(user.id, id);
    if (removed) {
      await this.deps.audit.record([
        { type: 'passkey.removed', at: this.deps.clock.now(), userId: user.id, data: { credential_id: id, ip: origin.ip, user_agent: origin.userAgent } },
      ]);
    }
    return removed;
  }
}

interface CredentialShape {
  id: string;
  response: { clientDataJSON: string };
}

function isCredential(value: unknown): value is CredentialShape {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const response = v['response'] as Record<string, unknown> | undefined;
  return typeof v['id'] === 'string' && v['id'].length <= 1400 && typeof response === 'object' && response !== null && typeof response['clientDataJSON'] === 'string';
}

/** The challenge the browser signed, from clientDataJSON: it names the ceremony (checked again by the library). */
function challengeOf(credential: CredentialShape): string | undefined {
  try {
    const data: unknown = JSON.parse(Buffer.from(credential.response.clientDataJSON, 'base64url').toString('utf8'));
    const challenge = (data as Record<string, unknown> | null)?.['challenge'];
    return typeof challenge === 'string' ? challenge : undefined;
  } catch {
    return undefined;
  }
}
