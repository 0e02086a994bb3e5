/** A person who can approve device logins. */
export interface User {
  /** Stable subject identifier, what `sub` carries. */
  id: string;
  username: string;
  displayName: string;
  groups: readonly string[];
}

/** How a user proved who they are, for `amr`-like context and, later, policy. */
export type AuthenticationMethod = 'pwd';

/**
 * Where people come from. The embedded default is local accounts; an upstream OIDC provider implements the same
 * port later.
 */
export interface UserDirectory {
  /** The user, or undefined for an unknown name or a wrong password (indistinguishably, in time too). */
  authenticate(username: string, password: string): Promise<User | undefined>;
  find(id: string): Promise<User | undefined>;
}
