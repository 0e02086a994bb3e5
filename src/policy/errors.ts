/**
 * Errors of the policy module. Each has a stable `code` (tests and callers branch on it, not on the text) and,
 * for policy text, the places it is about, so an author sees `team.cedar:12:5` rather than a byte offset.
 */

export type PolicyErrorCode =
  /** A policy file does not parse as Cedar. */
  | 'policy_syntax'
  /** A policy does not validate against the Tether schema (unknown attribute, wrong type...). */
  | 'policy_invalid'
  /** A Tether annotation (`@ttl`, `@refresh_ttl`, `@scopes`, `@reason`, `@id`) is malformed or misplaced. */
  | 'policy_annotation'
  /** Two policies share one id. */
  | 'policy_duplicate_id'
  /** A file, or the whole set, holds no policy (refused: a truncated file would otherwise drop its policies). */
  | 'policy_empty'
  /** Templates are not supported. */
  | 'policy_template'
  /** A policy file or directory could not be read. */
  | 'policy_source'
  /** An input field cannot be turned into a policy request (e.g. an IP that is not one). */
  | 'policy_input';

/** Where in which source a problem is. Lines and columns count from 1. */
export interface PolicyLocation {
  source: string;
  line: number;
  column: number;
  /** The policy's id, when the problem belongs to one policy. */
  policyId?: string;
}

/** One problem found in a policy set. */
export interface PolicyProblem {
  message: string;
  location?: PolicyLocation;
}

/** Base class: every error the module throws is one of these. */
export class PolicyError extends Error {
  constructor(
    readonly code: PolicyErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The codes of a refused policy set. */
export type PolicyLoadErrorCode = Exclude<PolicyErrorCode, 'policy_source' | 'policy_input'>;

/** A policy set that was refused; the engine keeps the set it had. */
export class PolicyLoadError extends PolicyError {
  constructor(
    code: PolicyLoadErrorCode,
    readonly problems: readonly PolicyProblem[],
  ) {
    super(code, problems.map(formatProblem).join('\n'));
  }
}

/** A source could not be read. */
export class PolicySourceError extends PolicyError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super('policy_source', `${path}: ${message}`);
  }
}

/** An input field the caller filled wrongly. */
export class PolicyInputError extends PolicyError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('policy_input', `${field}: ${message}`);
  }
}

/** `source:line:column: [policy id] message`, the shape editors and CI logs link. */
export function formatProblem(problem: PolicyProblem): string {
  const at = problem.location;
  if (!at) return problem.message;
  const id = at.policyId ? ` [${at.policyId}]` : '';
  return `${at.source}:${at.line}:${at.column}:${id} ${problem.message}`;
}
