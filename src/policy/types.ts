/**
 * What the rest of Tether hands the policy module and what it gets back. Plain data, JSON-friendly (times are
 * seconds since the epoch, as everywhere in Tether), so the same shapes serve the server, the guard and the
 * `tether policy test` context files. No Cedar type appears here: only `src/policy/` knows Cedar.
 */

/** The environment class of a machine, as policy sees it and as the `device_class` claim carries it. */
export type DeviceClass = 'managed' | 'unmanaged' | 'jump_host' | 'automation';

/** Every device class, for checking input at the boundary. */
export const DEVICE_CLASSES: readonly DeviceClass[] = ['managed', 'unmanaged', 'jump_host', 'automation'];

/** How sensitive an API is. */
export type ResourceTier = 'low' | 'medium' | 'high';

/** Every resource tier, lowest first. */
export const RESOURCE_TIERS: readonly ResourceTier[] = ['low', 'medium', 'high'];

/** The steps at which policy decides, one per Cedar action. */
export type PolicyStep =
  | 'device_authorization'
  | 'approval'
  | 'issuance'
  | 'refresh'
  | 'api'
  | 'workload_creation'
  | 'workload_exchange'
  | 'delegation';

/** An OAuth client, by its `client_id`. */
export interface ClientFacts {
  id: string;
}

/** An API, by its audience URI, with its sensitivity tier. */
export interface ResourceFacts {
  uri: string;
  tier: ResourceTier;
}

/** A person. */
export interface UserFacts {
  id: string;
  groups: readonly string[];
}

/** The machine as far as trust goes: see `describeDevice` in device-trust.ts, which computes this. */
export interface DeviceFacts {
  /** The DPoP key thumbprint; null when no key was presented (a Bearer client). */
  jkt: string | null;
  class: DeviceClass;
  /** Its key was approved by an administrator or vouched for by a configured attestation. */
  enrolled: boolean;
}

/** Where a request came from. */
export interface Origin {
  /** The peer address as the server sees it (after trusted-proxy handling). */
  ip: string;
  userAgent?: string;
}

/** How the approving person signed in (docs/sign-in.md). */
export interface SignIn {
  /** "pwd", "passkey" or "upstream:<provider name>". */
  method: string;
  /** When they signed in (seconds since the epoch). */
  at: number;
  /** More than one factor (a passkey with user verification; a provider whose amr or acr the config maps to MFA). */
  mfa?: boolean;
  /** Bound to the origin, so a look-alike site cannot relay it (a passkey; a provider's mapped amr or acr). */
  phishingResistant?: boolean;
  /** The provider's `acr` claim; "" when none. */
  acr?: string;
  /** The provider's `amr` claim (RFC 8176 values or its own). */
  amr?: readonly string[];
}

interface StepBase {
  /** The decision time, seconds since the epoch (the server's clock). */
  now: number;
  client: ClientFacts;
  resource: ResourceFacts;
  device: DeviceFacts;
  /** The scopes asked for (device request) or carried (later steps). */
  scopes: readonly string[];
}

/** The device authorization request (RFC 8628 §3.1). */
export interface DeviceRequestInput extends StepBase {
  step: 'device_authorization';
  requester: Origin;
  /** What the device declared about its environment ("automation", "jump_host"...), if anything. */
  environment?: string;
}

/** A person approving a pending request on the verification page. */
export interface ApprovalInput extends StepBase {
  step: 'approval';
  user: UserFacts;
  signIn: SignIn;
  /** The approving browser. */
  approver: Origin;
  /** The device that asked (as recorded with the request). */
  requester: Origin;
  /** When the device asked (seconds since the epoch). */
  requestedAt: number;
  environment?: string;
}

/** Token issuance for an approved device code (RFC 8628 §3.4). */
export interface IssueInput extends StepBase {
  step: 'issuance';
  user: UserFacts;
  signIn: SignIn;
  /** The device at the token endpoint. */
  requester: Origin;
  /** When the approval created the grant. */
  grantCreatedAt: number;
  environment?: string;
}

/** A refresh-token grant. */
export interface RefreshInput extends StepBase {
  step: 'refresh';
  user: UserFacts;
  signIn: SignIn;
  requester: Origin;
  grantCreatedAt: number;
  environment?: string;
}

/** A workload as policy sees it: `Tether::Workload` with its owner (a `Tether::User`) as an attribute. */
export interface WorkloadFacts {
  id: string;
  /** The owner's user id. */
  owner: string;
}

/** Who an API request acts for. */
export type ApiSubject = ({ kind: 'user' } & UserFacts) | ({ kind: 'workload' } & WorkloadFacts);

/** How a workload proves itself: "federated" (an external issuer's JWT) or "key" (a registered public key). */
export type WorkloadAuthentication = 'federated' | 'key';

/**
 * A person creating a workload from their DPoP-bound login; asked once per resource the workload may reach.
 * `device` is the person's device (the token's `cnf.jkt` and `device_class`).
 */
export interface WorkloadCreationInput extends StepBase {
  step: 'workload_creation';
  /** The owner-to-be. */
  user: UserFacts;
  /** The lifetime asked for, in seconds. */
  lifetime: number;
  authentication: WorkloadAuthentication;
  /** The federated issuer; absent for a key-bound workload. */
  issuer?: string;
  requester: Origin;
}

/** A workload exchanging its proof for an access token; `device` is its DPoP key (class "automation"). */
export interface WorkloadExchangeInput extends StepBase {
  step: 'workload_exchange';
  workload: WorkloadFacts;
  authentication: WorkloadAuthentication;
  issuer?: string;
  /** When the workload was created. */
  workloadCreatedAt: number;
  requester: Origin;
}

/** A person's token exchanged for a narrower one for a tool or agent (RFC 8693 `act`). */
export interface DelegationInput extends StepBase {
  step: 'delegation';
  user: UserFacts;
  /** Who the new token is for (its `act.sub`). */
  actor: string;
  requester: Origin;
}

/** A request at an API, after the guard has verified the token and the proof. */
export interface ApiRequestInput extends StepBase {
  step: 'api';
  subject: ApiSubject;
  method: string;
  /** The path of the URL called, without the query. */
  path: string;
  origin: Origin;
  /** The token's `iat`. */
  tokenIssuedAt: number;
}

/** Any step's input; `step` says which. */
export type PolicyInput =
  | DeviceRequestInput
  | ApprovalInput
  | IssueInput
  | RefreshInput
  | ApiRequestInput
  | WorkloadCreationInput
  | WorkloadExchangeInput
  | DelegationInput;

/**
 * Why a request was refused:
 * - `forbidden`: a forbid policy matched (its `@reason` is the message);
 * - `not_permitted`: no permit policy matched;
 * - `no_scope`: the permitting policies' `@scopes` leave none of the requested scopes;
 * - `lifetime`: the grant is older than the `@refresh_ttl` of the policies that permit the refresh;
 * - `error`: a policy could not be evaluated (refused, failing closed).
 */
export type DenialCause = 'forbidden' | 'not_permitted' | 'no_scope' | 'lifetime' | 'error';

/** A permit, with what the determining policies set. */
export interface PolicyAllow {
  decision: 'allow';
  /** Ids of the determining policies (the permits that matched). */
  reasons: string[];
  /** Access-token lifetime in seconds: the shortest `@ttl` among them; absent when none sets one. */
  ttl?: number;
  /** Refresh (grant absolute) lifetime in seconds: the shortest `@refresh_ttl`; absent when none sets one. */
  refreshTtl?: number;
  /** The requested scopes, narrowed by every `@scopes` among them (never widened). */
  scopes: string[];
}

/** A refusal, with a reason a person can read. */
export interface PolicyDeny {
  decision: 'deny';
  /** Ids of the determining policies (the forbids that matched; empty when nothing permitted). */
  reasons: string[];
  cause: DenialCause;
  /** For the person: the first matching forbid's `@reason`, or a generic sentence. */
  message: string;
  /** Evaluation errors, for the log (never for the person). */
  errors?: string[];
}

/** The outcome of one decision. */
export type PolicyDecision = PolicyAllow | PolicyDeny;
