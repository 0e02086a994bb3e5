/** Row types of every table. Times are integer seconds since the epoch; lists are space-separated text. */
export interface SigningKeyTable {
  kid: string;
  alg: string;
  private_jwk: string;
  public_jwk: string;
  created_at: number;
  activates_at: number | null;
  retired_at: number | null;
}

export interface DeviceAuthorizationTable {
  id: string;
  device_code_hash: string;
  user_code: string;
  client_id: string;
  scope: string;
  resource: string;
  requester_ip: string;
  requester_user_agent: string;
  dpop_jkt: string | null;
  /** The device key whose statement vouched for the DPoP key (migration 0003); null without one. */
  device_jkt: string | null;
  environment: string | null;
  interval: number;
  created_at: number;
  expires_at: number;
  status: 'pending' | 'approved' | 'denied' | 'redeemed' | 'abandoned';
  decided_at: number | null;
  approver_user_id: string | null;
  approver_ip: string | null;
  approver_user_agent: string | null;
  grant_id: string | null;
}

/** Device codes handed out before codes named their row (migration 0008), while they can still be answered. */
export interface LegacyDeviceCodeTable {
  device_code_hash: string;
  device_authorization_id: string;
}

export interface GrantTable {
  id: string;
  user_id: string;
  client_id: string;
  device_authorization_id: string;
  scope: string;
  resource: string;
  dpop_jkt: string | null;
  /** The device key whose statement vouched for the DPoP key (migration 0003); null without one. */
  device_jkt: string | null;
  environment: string | null;
  auth_time: number;
  /** JSON of the approver's Authentication (0004-sso); null for older grants. */
  auth_context: string | null;
  created_at: number;
  expires_at: number;
  idle_ttl: number;
  /**
   * The grant's creation; no longer rewritten by each refresh (nothing read it, and the write cost every rotation
   * a page). The last use is the newest refresh token's `issued_at`, and the audit log's `token.refreshed`.
   */
  last_used_at: number;
  status: 'active' | 'revoked';
  revoked_at: number | null;
  revoked_by: string | null;
  revoked_reason: string | null;
}

/**
 * No longer written or read: access tokens are not stored (tokens/token-store.ts, IssuedAccessToken). The table
 * stays so that an instance of an earlier version keeps working during a rolling upgrade (docs/operating.md); a
 * later migration drops it.
 */
export interface AccessTokenTable {
  jti: string;
  grant_id: string;
  issued_at: number;
  expires_at: number;
}

export interface RefreshTokenTable {
  hash: string;
  grant_id: string;
  parent_hash: string | null;
  issued_at: number;
  expires_at: number;
  status: 'active' | 'rotated' | 'revoked';
}

export interface RevocationTable {
  id: string;
  seq: number;
  kind: 'grant' | 'user' | 'jkt' | 'client' | 'all' | 'workload' | 'owner';
  value: string | null;
  issued_before: number;
  /** Milliseconds; null for statements from before migration 0002. */
  issued_before_ms: number | null;
  created_at: number;
  actor: string;
  reason: string;
  via: string;
  grants_revoked: number;
}

export interface AuditEventTable {
  seq: number;
  id: string;
  type: string;
  at: number;
  user_id: string | null;
  client_id: string | null;
  grant_id: string | null;
  device_authorization_id: string | null;
  jti: string | null;
  jkt: string | null;
  parent_id: string | null;
  data: string;
  prev_hash: string;
  hash: string;
}

export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface AuditCheckpointTable {
  seq: number;
  hash: string;
  at: number;
  signature: string;
}

export interface BrowserSessionTable {
  id_hash: string;
  user_id: string | null;
  auth_time: number | null;
  auth_method: string | null;
  /** JSON of the session's Authentication (0004-sso); null for older rows. */
  auth_context: string | null;
  created_at: number;
  expires_at: number;
}

export interface SignInCeremonyTable {
  id_hash: string;
  session_hash: string;
  kind: string;
  data: string;
  expires_at: number;
}

export interface UpstreamUserTable {
  id: string;
  provider: string;
  subject: string;
  username: string;
  display_name: string;
  email: string | null;
  /** JSON array of group names. */
  groups: string;
  created_at: number;
  updated_at: number;
}

export interface PasskeyTable {
  credential_id: string;
  user_id: string;
  /** base64url of the COSE public key. */
  public_key: string;
  counter: number;
  /** JSON array of transports. */
  transports: string;
  device_type: string;
  backed_up: number;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

export interface DeviceTable {
  jkt: string;
  name: string;
  requested_class: 'managed' | 'unmanaged' | 'jump_host' | 'automation';
  status: 'pending' | 'approved' | 'revoked';
  class: 'managed' | 'unmanaged' | 'jump_host' | 'automation' | null;
  trust: 'admin' | 'attestation' | null;
  decided_by: string | null;
  enrolled_at: number;
  decided_at: number | null;
}

export interface SettingTable {
  key: string;
  value: string;
}

export interface WorkloadTable {
  id: string;
  name: string;
  owner_id: string;
  purpose: string;
  resources: string;
  scope: string;
  auth_method: 'federated' | 'key';
  federated_issuer: string | null;
  federated_subject: string | null;
  /** JSON object of claim name to required value. */
  federated_claims: string | null;
  public_jwk: string | null;
  jkt: string | null;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
  status: 'active' | 'suspended' | 'expired' | 'deleted';
  status_changed_at: number;
  tokens_revoked_before: number | null;
  created_grant_id: string;
  created_jkt: string | null;
  created_device_class: string;
  created_client_id: string;
}

export interface WorkloadJtiTable {
  hash: string;
  expires_at: number;
}

/** A claimed DPoP proof (or client assertion) id, shared by every instance on the database. */
export interface DpopJtiTable {
  /** SHA-256 (base64url) of the replay key: bounded length whatever the proof carries. */
  key: string;
  /** Milliseconds since the epoch after which the proof could no longer be accepted anyway. */
  expires_at: number;
}

/** The pacing of one device code's polls, shared by every instance. */
export interface PollPacingTable {
  authorization_id: string;
  last_poll_ms: number;
  /** Seconds between polls now in force, with every slow_down's increase. */
  interval: number;
  /** 1 when the last poll came too soon (the one statement that records a poll also says so). */
  slowed: number;
  /** Milliseconds since the epoch when the code expires and the row may go. */
  expires_at: number;
}

/** One wrong user code entered on any instance: the old shared limiter's table, unused since 0005 (failure_counts). */
export interface CodeEntryFailureTable {
  id: string;
  at: number;
  ip: string;
  session_key: string;
}

/** A person in the stored directory (migration 0003). `active` is 0/1; `emails` and `source_groups` are JSON. */
export interface DirectoryUserTable {
  id: string;
  user_name: string;
  display_name: string;
  emails: string;
  external_id: string | null;
  source_groups: string;
  active: number;
  source: string;
  version: number;
  created_at: number;
  updated_at: number;
  /** Set for a deleted person: a scrubbed marker of the name, so the configuration cannot bring them back. */
  deleted_at: number | null;
}

export interface DirectoryGroupTable {
  id: string;
  display_name: string;
  /** `display_name` lowercased by the server, unique. */
  display_name_key: string;
  external_id: string | null;
  version: number;
  created_at: number;
  updated_at: number;
}

export interface DirectoryGroupMemberTable {
  group_id: string;
  user_id: string;
}

/** One failed attempt against a verification-page limit, on any instance (migration 0005). */
export interface FailureCountTable {
  id: string;
  /** Which limit: FailureScope, e.g. `code_entry.session`. */
  scope: string;
  /** SHA-256 (base64url) of the account, session or address the failure is charged to. */
  key: string;
  /** Seconds since the epoch. */
  at: number;
}

export interface Database {
  signing_keys: SigningKeyTable;
  device_authorizations: DeviceAuthorizationTable;
  legacy_device_codes: LegacyDeviceCodeTable;
  grants: GrantTable;
  access_tokens: AccessTokenTable;
  refresh_tokens: RefreshTokenTable;
  revocations: RevocationTable;
  audit_events: AuditEventTable;
  audit_head: AuditHeadTable;
  audit_checkpoints: AuditCheckpointTable;
  browser_sessions: BrowserSessionTable;
  devices: DeviceTable;
  settings: SettingTable;
  workloads: WorkloadTable;
  workload_jtis: WorkloadJtiTable;
  dpop_jti: DpopJtiTable;
  poll_pacing: PollPacingTable;
  code_entry_failures: CodeEntryFailureTable;
  directory_users: DirectoryUserTable;
  directory_groups: DirectoryGroupTable;
  directory_group_members: DirectoryGroupMemberTable;
  sign_in_ceremonies: SignInCeremonyTable;
  upstream_users: UpstreamUserTable;
  passkeys: PasskeyTable;
  failure_counts: FailureCountTable;
}

