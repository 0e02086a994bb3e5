import { badRequest } from './errors.js';

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An attribute by name, case-insensitively (RFC 7643 §2.1: attribute names are not case-sensitive). */
export function attribute(body: JsonObject, name: string): unknown {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(body)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

/**
 * Asserts the body is a SCIM message of `schema`: an object whose `schemas` is a list of URNs that includes it
 * (RFC 7643 §3). Anything else is `invalidSyntax`.
 */
export function assertMessage(body: unknown, schema: string): asserts body is JsonObject {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'The body must be a JSON object.');
  const schemas = attribute(body, 'schemas');
  if (!Array.isArray(schemas) || !schemas.every((s) => typeof s === 'string')) {
    throw badRequest('invalidSyntax', 'schemas must be a list of schema URNs.');
  }
  if (!schemas.some((s) => s.toLowerCase() === schema.toLowerCase())) throw badRequest('invalidSyntax', `schemas must include ${schema}.`);
}

/** A string attribute; `maxLength` bounds what is stored. */
export function optionalString(value: unknown, name: string, maxLength = 256): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw badRequest('invalidValue', `${name} must be a string.`);
  if (value.length > maxLength) throw badRequest('invalidValue', `${name} is longer than ${maxLength} characters.`);
  return value;
}

export function requiredString(value: unknown, name: string, maxLength = 256): string {
  const text = optionalString(value, name, maxLength);
  if (text === undefined || text.trim() === '') throw badRequest('invalidValue', `${name} is required.`);
  return text;
}

/**
 * A Boolean. Entra ID sends `"True"`/`"False"` strings in some PATCH operations; those two are taken as the Booleans
 * they mean, anything else is refused.
 */
export function boolean(value: unknown, name: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  throw badRequest('invalidValue', `${name} must be a Boolean.`);
}
