/** A person who can approve device logins. */
export interface User {
  /** Stable subject identifier, what `sub` carries. */
  id: string;
  username: string;
  displayName: string;
  groups: readonly string[];
}

/** How a user proved who they are: a local password, a local passkey, or an upstream OpenID provider by name. */
export type AuthenticationMethod = 'pwd' | 'passkey' | `upstream:${string}`;

/**
 * What policy learns of a sign-in (docs/sign-in.md): the method, whether it was multi-factor and phishing-resistant,
 * and the provider's own `acr` and `amr` as it sent them (RFC 8176 values, or the provider's).
 */
export interface Authentication {
  method: AuthenticationMethod;
  mfa: boolean;
  phishingResistant: boolean;
  /** The ID token's `acr`; empty when none. */
  acr: string;
  amr: readonly string[];
}

/** A password sign-in: one factor, phishable. */
export const PASSWORD_SIGN_IN: Authentication = { method: 'pwd', mfa: false, phishingResistant: false, acr: '', amr: ['pwd'] };

/**
 * Where people come from. The embedded default is local accounts; an upstream OIDC provider implements the same
 * port later.
 */
export interface UserDirectory {
  /** The user, or undefined for an unknown name or a wrong password (indistinguishably, in time too). */
  authenticate(username: string, password: string): Promise<User | undefined>;
  find(id: string): Promise<User | undefined>;
}
