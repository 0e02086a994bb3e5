import type { Client, Resource } from '../clients/client.js';
import type { Grant } from './grant.js';

export interface LifetimeDefaults {
  accessTokenTtl: number;
  grantIdleTtl: number;
  grantMaxTtl: number;
}

export interface Lifetimes {
  accessTokenTtl: number;
  grantIdleTtl: number;
  grantMaxTtl: number;
}

/** Each lifetime is the shortest of the server default, the client's limit and the resource's limit. */
export function lifetimesFor(defaults: LifetimeDefaults, client: Client, resource: Resource): Lifetimes {
  const shortest = (...values: (number | undefined)[]) => Math.min(...values.map((v) => v ?? Infinity));
  return {
    accessTokenTtl: shortest(defaults.accessTokenTtl, client.accessTokenTtl, resource.accessTokenTtl),
    grantIdleTtl: shortest(defaults.grantIdleTtl, client.grantIdleTtl, resource.grantIdleTtl),
    grantMaxTtl: shortest(defaults.grantMaxTtl, client.grantMaxTtl, resource.grantMaxTtl),
  };
}

/**
 * What the permitting policies say about lifetimes (docs/policy.md): the shortest `@ttl` (access token) and
 * `@refresh_ttl` (the grant's absolute life), in seconds; absent when no policy sets one. A policy decision fits.
 */
export interface PolicyLifetimeLimits {
  ttl?: number;
  refreshTtl?: number;
}

/** The lifetimes a step yields: each the shortest of the configured limit and what the policies allow. */
export function boundLifetimes<T extends { accessTokenTtl: number; grantMaxTtl: number; grantIdleTtl?: number }>(
  configured: T,
  policy: PolicyLifetimeLimits,
): T {
  const accessTokenTtl = Math.min(configured.accessTokenTtl, policy.ttl ?? Infinity);
  const grantMaxTtl = Math.min(configured.grantMaxTtl, policy.refreshTtl ?? Infinity);
  return {
    ...configured,
    accessTokenTtl,
    grantMaxTtl,
    // A grant idle longer than it may live makes no sense; keep the idle limit inside the absolute one.
    ...(configured.grantIdleTtl !== undefined ? { grantIdleTtl: Math.min(configured.grantIdleTtl, grantMaxTtl) } : {}),
  };
}

/**
 * The grant as far as these tokens go: it ends at its own end or when policy's `@refresh_ttl` after approval runs
 * out, whichever is first; the refresh token and the access token end no later.
 */
export function policyBoundGrant(grant: Grant, policy: PolicyLifetimeLimits): { expiresAt: number; idleTtl: number } {
  return {
    expiresAt: Math.min(grant.expiresAt, grant.createdAt + (policy.refreshTtl ?? Infinity)),
    idleTtl: grant.idleTtl,
  };
}
