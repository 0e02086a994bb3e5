import { badRequest } from './errors.js';

/** A filter this server answers: one attribute compared with `eq` to a string. */
export interface EqualityFilter<A extends string> {
  attribute: A;
  value: string;
}

/** `attr eq "value"`, with the value a JSON string (so `\"` and `\\` escapes work as in RFC 7644 §3.4.2.2). */
const EQ = /^\s*([A-Za-z][\w:.$-]*)\s+eq\s+("(?:[^"\\]|\\.)*")\s*$/i;

/**
 * Parses a `filter` query parameter into an equality filter on one of `allowed` (matched case-insensitively, with
 * or without the resource's schema URN, as RFC 7644 §3.4.2.2 allows). Anything else (other operators, `and`/`or`,
 * unknown attributes, unquoted values) is refused with `invalidFilter` rather than answered wrongly: a SCIM client
 * that matches users by filter must never get someone else back.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2
 */
export function parseEqualityFilter<A extends string>(filter: string, allowed: readonly A[], schema: string): EqualityFilter<A> {
  const match = EQ.exec(filter);
  if (!match?.[1] || !match[2]) {
    throw badRequest('invalidFilter', `Only filters of the form: attribute eq "value" on ${allowed.join(', ')} are supported.`);
  }
  const name = stripSchema(match[1], schema).toLowerCase();
  const attribute = allowed.find((a) => a.toLowerCase() === name);
  if (!attribute) throw badRequest('invalidFilter', `Filtering on ${match[1]} is not supported; use ${allowed.join(', ')}.`);
  let value: unknown;
  try {
    value = JSON.parse(match[2]);
  } catch {
    throw badRequest('invalidFilter', 'The filter value is not a valid string.');
  }
  if (typeof value !== 'string') throw badRequest('invalidFilter', 'The filter value must be a string.');
  return { attribute, value };
}

/** `urn:…:User:userName` → `userName`. */
export function stripSchema(attribute: string, schema: string): string {
  return attribute.toLowerCase().startsWith(`${schema.toLowerCase()}:`) ? attribute.slice(schema.length + 1) : attribute;
}
