/**
 * The Cedar schema every Tether policy is validated against: the entity types policies may name and the context
 * each step supplies. It is a TypeScript string (not a `.cedarschema` file) so that it ships in `dist/` with the
 * code that fills it; `tether policy schema` prints it for policy authors.
 *
 * Why these shapes:
 * - Every action's context has the same names for the same facts (`client`, `device`, `scopes`, `ip`, `network`,
 *   `hour`, `weekday`), so one policy can cover several steps (`action in [...]`) and still validate.
 * - The person's groups are parents of the User entity, so `principal in Tether::Group::"admins"` works.
 * - Tiers and device classes are strings with a fixed vocabulary (checked when the request is built), which reads
 *   better in a policy than numbers do.
 *
 * @see docs/policy.md for every attribute's meaning and where the server fills it from.
 */
export const POLICY_SCHEMA = `// Tether's policy schema (Cedar). Printed by 'tether policy schema'.
namespace Tether {
  // A group of people, from the user directory: principal in Tether::Group::"sre".
  entity Group;

  // A person. Their groups are the entity's parents.
  entity User in [Group];

  // A non-human identity (a CI job, a service) owned by a person: principal.owner == Tether::User::"alice".
  entity Workload = {
    owner: User,
  };

  // An OAuth client (tether-cli, a partner tool...), known by its client_id.
  entity Client;

  // The machine, known by its DPoP key thumbprint (jkt); "unbound" when no key was presented.
  entity Device = {
    // "managed" | "unmanaged" | "jump_host" | "automation"
    class: String,
    // the key was approved by an administrator or vouched for by a configured attestation
    enrolled: Bool,
    // a DPoP key was presented (false: plain Bearer, no machine binding)
    bound: Bool,
  };

  // An API, known by its audience URI.
  entity Resource = {
    // "low" | "medium" | "high"
    tier: String,
  };

  // Where a request came from.
  type Origin = {
    ip: ipaddr,
    // a configured network name, else "loopback" | "private" | "public"
    network: String,
    userAgent: String,
  };

  // The CLI or device asks for a device code (RFC 8628 section 3.1).
  action RequestDeviceCode appliesTo {
    principal: [Client],
    resource: [Resource],
    context: {
      client: Client,
      device: Device,
      // what the device says it is ("automation", "jump_host", ...); "" when it says nothing
      environment: String,
      scopes: Set<String>,
      ip: ipaddr,
      network: String,
      userAgent: String,
      hour: Long,
      weekday: Long,
    },
  };

  // A signed-in person approves a pending request on the verification page.
  action Approve appliesTo {
    principal: [User],
    resource: [Resource],
    context: {
      client: Client,
      device: Device,
      environment: String,
      scopes: Set<String>,
      // how the person signed in ("pwd", "passkey", "upstream:<provider>") and how many seconds ago
      authMethod: String,
      authAgeSeconds: Long,
      // the sign-in used more than one factor / could not be relayed by a look-alike site (docs/sign-in.md)
      mfa: Bool,
      phishingResistant: Bool,
      // the upstream provider's acr ("" when none) and amr (RFC 8176), as it sent them
      acr: String,
      amr: Set<String>,
      // the approving browser
      ip: ipaddr,
      network: String,
      userAgent: String,
      // the device that asked
      requester: Origin,
      // approver and requester are on one network (same /24 or /64, or the same configured network)
      sameNetwork: Bool,
      requestAgeSeconds: Long,
      hour: Long,
      weekday: Long,
    },
  };

  // The device redeems an approved device code for tokens (RFC 8628 section 3.4).
  action Issue appliesTo {
    principal: [User],
    resource: [Resource],
    context: TokenContext,
  };

  // The device uses its refresh token.
  action Refresh appliesTo {
    principal: [User],
    resource: [Resource],
    context: TokenContext,
  };

  type TokenContext = {
    client: Client,
    device: Device,
    environment: String,
    scopes: Set<String>,
    authMethod: String,
    authAgeSeconds: Long,
    // how the approver signed in, as at Approve
    mfa: Bool,
    phishingResistant: Bool,
    acr: String,
    amr: Set<String>,
    // seconds since the approval created the grant
    grantAgeSeconds: Long,
    // the device at the token endpoint
    ip: ipaddr,
    network: String,
    userAgent: String,
    hour: Long,
    weekday: Long,
  };

  // A signed-in person creates a workload identity from their DPoP-bound login; asked once per resource the
  // workload may reach. context.device is the person's device.
  action CreateWorkload appliesTo {
    principal: [User],
    resource: [Resource],
    context: {
      client: Client,
      device: Device,
      scopes: Set<String>,
      // the lifetime asked for, in seconds
      lifetimeSeconds: Long,
      // "federated" | "key"
      authentication: String,
      // the trusted issuer of a federated workload; "" for a key-bound one
      issuer: String,
      ip: ipaddr,
      network: String,
      userAgent: String,
      hour: Long,
      weekday: Long,
    },
  };

  // A workload exchanges its proof (a federated JWT or a key-signed assertion) for an access token.
  // context.device is the workload's DPoP key, always of class "automation".
  action ExchangeToken appliesTo {
    principal: [Workload],
    resource: [Resource],
    context: {
      client: Client,
      device: Device,
      scopes: Set<String>,
      authentication: String,
      issuer: String,
      // seconds since the workload was created
      workloadAgeSeconds: Long,
      ip: ipaddr,
      network: String,
      userAgent: String,
      hour: Long,
      weekday: Long,
    },
  };

  // A person's token is exchanged for a narrower, shorter one for a tool or agent (RFC 8693 act).
  action Delegate appliesTo {
    principal: [User],
    resource: [Resource],
    context: {
      client: Client,
      device: Device,
      scopes: Set<String>,
      // who the new token is for (its act.sub)
      actor: String,
      ip: ipaddr,
      network: String,
      userAgent: String,
      hour: Long,
      weekday: Long,
    },
  };

  // A request at an API, checked by the guard after the token and proof are verified.
  action CallResource appliesTo {
    principal: [User, Workload],
    resource: [Resource],
    context: {
      client: Client,
      device: Device,
      scopes: Set<String>,
      method: String,
      path: String,
      ip: ipaddr,
      network: String,
      userAgent: String,
      tokenAgeSeconds: Long,
      hour: Long,
      weekday: Long,
    },
  };
}
`;

/** Cedar's name for the schema once pre-parsed into the WebAssembly module's cache. */
export const SCHEMA_CACHE_NAME = 'tether-policy-schema';
