/** A registered OAuth client, as the domain sees it. */
export interface Client {
  id: string;
  name: string;
  type: 'public' | 'confidential';
  /** Present only for confidential clients. */
  secret?: string;
  grants: readonly string[];
  scopes: readonly string[];
  resources: readonly string[];
  defaultResource?: string;
  deviceCodeTtl?: number;
  pollingInterval?: number;
  accessTokenTtl?: number;
}

/** A protected API: what a token's `aud` names. */
export interface Resource {
  uri: string;
  name: string;
  scopes: readonly string[];
  accessTokenTtl?: number;
}
