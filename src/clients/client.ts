/** A registered OAuth client, as the domain sees it. */
export interface Client {
  id: string;
  name: string;
  type: 'public' | 'confidential';
  /** Present only for confidential clients. */
  secret?: string;
  /** SHA-256 (base64url) of the secret, when the configuration holds only that. */
  secretHash?: string;
  grants: readonly string[];
  scopes: readonly string[];
  resources: readonly string[];
  defaultResource?: string;
  deviceCodeTtl?: number;
  pollingInterval?: number;
  accessTokenTtl?: number;
  grantIdleTtl?: number;
  grantMaxTtl?: number;
  /** Plain Bearer tokens when no DPoP proof is sent: only when configured so, and logged as a risk. */
  allowBearer: boolean;
  /** Device authorization requests must carry a DPoP proof, binding the device code from the first request. */
  requireDpopBinding: boolean;
  authMethod: 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  /** Public keys for private_key_jwt. */
  jwks?: { keys: Record<string, unknown>[] };
  /** May call the introspection endpoint (a resource server). */
  introspection: boolean;
}

/** A protected API: what a token's `aud` names. */
export interface Resource {
  uri: string;
  name: string;
  scopes: readonly string[];
  /** How sensitive it is, for policy (`resource.tier`). */
  tier: 'low' | 'medium' | 'high';
  accessTokenTtl?: number;
  grantIdleTtl?: number;
  grantMaxTtl?: number;
}
