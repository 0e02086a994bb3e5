import type { Page } from '../users/directory.js';
import { badRequest } from './errors.js';
import { LIST_RESPONSE_SCHEMA } from './schemas.js';

/** The most resources one page holds (advertised as `filter.maxResults`). */
export const MAX_PAGE = 100;

/**
 * `startIndex` (1-based; below 1 means 1) and `count` (negative means 0; above the maximum, the maximum).
 *
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.4
 */
export function parsePaging(startIndex: string | undefined, count: string | undefined): Page & { startIndex: number } {
  const start = startIndex === undefined ? 1 : integer('startIndex', startIndex);
  const size = count === undefined ? MAX_PAGE : integer('count', count);
  const first = Math.max(1, start);
  return { startIndex: first, offset: first - 1, limit: Math.min(MAX_PAGE, Math.max(0, size)) };
}

function integer(name: string, text: string): number {
  if (!/^-?\d{1,9}$/.test(text.trim())) throw badRequest('invalidValue', `${name} must be an integer.`);
  return Number(text);
}

/** @see https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2 */
export function listResponse(total: number, startIndex: number, resources: readonly Record<string, unknown>[]): Record<string, unknown> {
  return { schemas: [LIST_RESPONSE_SCHEMA], totalResults: total, startIndex, itemsPerPage: resources.length, Resources: resources };
}

/**
 * `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) at the top level: `id`, `schemas` and `meta` are always
 * returned; a sub-attribute (`name.givenName`) selects its whole attribute.
 */
export function projectAttributes(
  resource: Record<string, unknown>,
  query: { attributes?: string | undefined; excludedAttributes?: string | undefined },
  schema: string,
): Record<string, unknown> {
  const names = (list: string) =>
    list
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a.length > 0)
      .map((a) => (a.toLowerCase().startsWith(`${schema.toLowerCase()}:`) ? a.slice(schema.length + 1) : a))
      .map((a) => (a.split('.')[0] ?? a).toLowerCase());
  const always = new Set(['id', 'schemas', 'meta']);
  if (query.attributes) {
    const keep = new Set(names(query.attributes));
    return Object.fromEntries(Object.entries(resource).filter(([k]) => always.has(k) || keep.has(k.toLowerCase())));
  }
  if (query.excludedAttributes) {
    const drop = new Set(names(query.excludedAttributes));
    return Object.fromEntries(Object.entries(resource).filter(([k]) => always.has(k) || !drop.has(k.toLowerCase())));
  }
  return resource;
}
