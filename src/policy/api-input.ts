import { deviceFromClaims } from './device-trust.js';
import type { ApiRequestInput, ResourceFacts } from './types.js';

/** What a guard knows about one request once the token and proof are verified. */
export interface VerifiedRequest {
  /** The access token's verified claims (RFC 9068: sub, client_id, scope, iat, cnf, device_class...). */
  claims: Readonly<Record<string, unknown>>;
  method: string;
  /** The absolute URL called, or its path; only the path reaches policy (the query may hold anything). */
  url: string;
  ip: string;
  userAgent?: string;
  /** The API this guard protects, with its tier. */
  resource: ResourceFacts;
  /** Seconds since the epoch. */
  now: number;
}

/**
 * The API step's policy input, from a verified token and the request: what the guard hands
 * `PolicyEngine.decide` after its signature, audience, expiry, proof and revocation checks have passed. The device
 * comes from the token's own claims, so the guard needs neither the server nor the device registry.
 */
export function apiRequestInput(request: VerifiedRequest): ApiRequestInput {
  const { claims } = request;
  const scope = claims['scope'];
  const iat = claims['iat'];
  return {
    step: 'api',
    now: request.now,
    client: { id: String(claims['client_id'] ?? '') },
    resource: request.resource,
    device: deviceFromClaims(claims),
    scopes: typeof scope === 'string' ? scope.split(' ').filter((s) => s.length > 0) : [],
    subject: subjectOf(claims),
    method: request.method,
    path: pathOf(request.url),
    origin: { ip: request.ip, ...(request.userAgent !== undefined ? { userAgent: request.userAgent } : {}) },
    tokenIssuedAt: typeof iat === 'number' ? iat : request.now,
  };
}

/** A workload token (`sub` = `workload:<id>`, with its `owner`) acts as a `Tether::Workload`; any other as a person. */
function subjectOf(claims: Readonly<Record<string, unknown>>): ApiRequestInput['subject'] {
  const sub = String(claims['sub'] ?? '');
  const owner = claims['owner'];
  if (sub.startsWith('workload:') && typeof owner === 'string' && owner.length > 0) {
    return { kind: 'workload', id: sub.slice('workload:'.length), owner };
  }
  return { kind: 'user', id: sub, groups: groupsOf(claims) };
}

/**
 * The person's groups from the token's `groups` claim (RFC 9068 §2.2.3.1), which Tether stamps at issuance and at
 * every refresh from the user directory; they become the User entity's parents (`principal in Tether::Group::"x"`).
 * A token without the claim is in no group, so a permit on a group fails closed.
 */
function groupsOf(claims: Readonly<Record<string, unknown>>): string[] {
  const groups = claims['groups'];
  return Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [];
}

function pathOf(url: string): string {
  // A path already (what the guard passes): no URL parse, and above all no exception, which costs tens of µs.
  if (url.startsWith('/') && !url.startsWith('//')) return url.split('?')[0] || '/';
  try {
    return new URL(url).pathname;
  } catch {
    // Already a path (a framework that only gives the path): drop any query.
    return url.split('?')[0] || '/';
  }
}
