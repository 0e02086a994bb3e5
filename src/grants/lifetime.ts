import type { Client, Resource } from '../clients/client.js';

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
