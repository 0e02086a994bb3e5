import { ERROR_SCHEMA } from './schemas.js';

/**
 * The `scimType` of a 400 (or 409) error, RFC 7644 §3.12 Table 9. Tests assert on it, not on the detail text.
 */
export type ScimErrorType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

/**
 * A SCIM error response: the status, the `scimType` where the RFC names one, and a detail safe to show the SCIM
 * client (it names the bad attribute, never anything internal).
 *
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.12
 */
export class ScimError extends Error {
  constructor(
    readonly status: number,
    readonly scimType: ScimErrorType | undefined,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'ScimError';
  }

  toJSON(): Record<string, unknown> {
    return {
      schemas: [ERROR_SCHEMA],
      status: String(this.status),
      ...(this.scimType ? { scimType: this.scimType } : {}),
      detail: this.detail,
    };
  }
}

/** A 400 with its `scimType`. */
export function badRequest(scimType: ScimErrorType, detail: string): ScimError {
  return new ScimError(400, scimType, detail);
}

export function notFound(what: string): ScimError {
  return new ScimError(404, undefined, `${what} not found.`);
}

/** RFC 7644 §3.14: the resource changed since the version the client names in If-Match. */
export function preconditionFailed(): ScimError {
  return new ScimError(412, undefined, 'The resource has changed since the version in If-Match.');
}

/** RFC 7644 §3.3: a create or change that would give two resources the same unique attribute. */
export function uniqueness(detail: string): ScimError {
  return new ScimError(409, 'uniqueness', detail);
}
