/**
 * The one file that calls Cedar (`@cedar-policy/cedar-wasm`). Everything else in Tether speaks the plain types of
 * types.ts; the rest of src/policy/ speaks the small shapes below. Keeping the binding here means a Cedar upgrade,
 * or a move to another Cedar binding, touches one file.
 *
 * Cedar is used in its "stateful" mode: the schema and each policy set are parsed once into the WebAssembly
 * module's cache and every decision names them by id. Parsing the policy text per decision is about twenty times
 * slower, which matters at the guard, where a decision is made on every API request.
 */
import {
  getCedarVersion,
  policySetTextToParts,
  policyToJson,
  preparsePolicySet,
  preparseSchema,
  statefulIsAuthorized,
  validate,
  type CedarValueJson,
  type DetailedError,
  type EntityUidJson,
  type StatefulAuthorizationCall,
  type EntityJson,
} from '@cedar-policy/cedar-wasm/nodejs';
import { POLICY_SCHEMA, SCHEMA_CACHE_NAME } from './schema.js';

/** A problem Cedar reported, with byte offsets into the text it was given. */
export interface CedarProblem {
  message: string;
  /** Byte offset of the first labelled location, if Cedar gave one. */
  offset?: number;
  policyId?: string;
}

/** An entity reference in Cedar's JSON form. */
export interface CedarUid {
  type: string;
  id: string;
}

/** One authorization request, already in Cedar's JSON shapes. */
export interface CedarRequest {
  principal: CedarUid;
  action: CedarUid;
  resource: CedarUid;
  context: Record<string, CedarValueJson>;
  entities: EntityJson[];
}

/** Cedar's JSON shapes for values and entities, re-exported for the request builder only. */
export type { CedarValueJson, EntityJson };

/** What Cedar answered: the decision and the ids of the determining policies, plus any evaluation errors. */
export type CedarAnswer =
  | { ok: true; decision: 'allow' | 'deny'; reasons: string[]; errors: { policyId: string; message: string }[] }
  | { ok: false; errors: string[] };

let schemaReady = false;

/** Parses the schema into Cedar's cache once per process (it never changes while the process runs). */
function ensureSchema(): void {
  if (schemaReady) return;
  const answer = preparseSchema(SCHEMA_CACHE_NAME, POLICY_SCHEMA);
  if (answer.type !== 'success') {
    // The schema is ours and tested; failing here is a build defect, not a user error.
    throw new Error(`the built-in policy schema does not parse: ${answer.errors.map(describe).join('; ')}`);
  }
  schemaReady = true;
}

/** Cedar's version, for `tether policy validate` output and logs. */
export function cedarVersion(): string {
  return getCedarVersion();
}

/**
 * Parses a policy set and splits it into its policies' texts (verbatim slices of `text`, in Cedar's id order);
 * offsets of problems are into `text`.
 */
export function splitPolicies(text: string): { policies: string[]; templates: number } | { problems: CedarProblem[] } {
  const answer = policySetTextToParts(text);
  if (answer.type !== 'success') return { problems: answer.errors.map(toProblem) };
  return { policies: answer.policies, templates: answer.policy_templates.length };
}

/**
 * A policy's effect, its annotations (`@name("value")`; a bare `@name` has the value null), and the context
 * attributes it reads (`'all'` when it uses the context as a whole).
 */
export function inspectPolicy(text: string): {
  effect: 'permit' | 'forbid';
  annotations: Record<string, string | null>;
  contextAttributes: ReadonlySet<string> | 'all';
  /** The actions its scope names (ids such as "Approve"), or 'all'. */
  actions: readonly string[] | 'all';
} {
  const answer = policyToJson(text);
  if (answer.type !== 'success') throw new Error(answer.errors.map(describe).join('; '));
  // Cedar's type says string, but a bare annotation comes back as null.
  const annotations = (answer.json.annotations ?? {}) as Record<string, string | null>;
  const scope = answer.json.action;
  const actions =
    scope.op === 'All'
      ? 'all'
      : 'entities' in scope
        ? scope.entities.map(actionId)
        : 'entity' in scope
          ? [actionId(scope.entity)]
          : 'all';
  return { effect: answer.json.effect, annotations, contextAttributes: contextReads(answer.json.conditions), actions };
}

function actionId(uid: EntityUidJson): string {
  return '__entity' in uid ? uid.__entity.id : uid.id;
}

/**
 * Which `context` attributes an expression tree reads: `context.x`, `context["x"]` and `context has x` name one;
 * any other use of `context` (compared or passed whole) means all of them. The answer decides what a request may
 * leave out, so when in doubt it says more.
 */
function contextReads(node: unknown): Set<string> | 'all' {
  const found = new Set<string>();
  let all = false;
  const isContext = (n: unknown) => typeof n === 'object' && n !== null && (n as { Var?: unknown }).Var === 'context';
  const visit = (n: unknown): void => {
    if (all || typeof n !== 'object' || n === null) return;
    if (Array.isArray(n)) {
      n.forEach(visit);
      return;
    }
    const record = n as Record<string, unknown>;
    for (const [key, value] of Object.entries(record)) {
      if ((key === '.' || key === 'has') && typeof value === 'object' && value !== null) {
        const { left, attr } = value as { left?: unknown; attr?: unknown };
        if (isContext(left)) {
          const first = Array.isArray(attr) ? attr[0] : attr;
          if (typeof first === 'string') found.add(first);
          else all = true;
          continue;
        }
      }
      if (key === 'Var' && value === 'context') {
        all = true;
        return;
      }
      // A Device named by literal (Tether::Device::"...".class) reads the device entity without going through
      // context.device; count it as reading `device` so the entity is never left out.
      if (key === '__entity' && (value as { type?: unknown } | null)?.type === 'Tether::Device') found.add('device');
      visit(value);
    }
  };
  visit(node);
  return all ? 'all' : found;
}

/** Validates policies (by id) against the schema in strict mode; offsets are into each policy's own text. */
export function validatePolicies(policies: Record<string, string>): { errors: CedarProblem[]; warnings: CedarProblem[] } {
  const answer = validate({ schema: POLICY_SCHEMA, policies: { staticPolicies: policies } });
  if (answer.type !== 'success') return { errors: answer.errors.map(toProblem), warnings: [] };
  return {
    errors: answer.validationErrors.map((e) => ({ ...toProblem(e.error), policyId: e.policyId })),
    warnings: [
      ...answer.validationWarnings.map((w) => ({ ...toProblem(w.error), policyId: w.policyId })),
      ...answer.otherWarnings.map(toProblem),
    ],
  };
}

/**
 * Parses policies into Cedar's cache under `setId`, replacing what was there. Cedar leaves the cache untouched
 * when parsing fails, so a caller that validated first always has either the old set or the new one in force.
 */
export function installPolicies(setId: string, policies: Record<string, string>): void {
  ensureSchema();
  const answer = preparsePolicySet(setId, { staticPolicies: policies });
  if (answer.type !== 'success') throw new Error(answer.errors.map(describe).join('; '));
}

/**
 * One decision against an installed set. With `checkRequest`, Cedar also checks the entities and context against
 * the schema (a defect in the request builder then shows as an error instead of a quiet mismatch).
 */
export function authorize(setId: string, request: CedarRequest, checkRequest: boolean): CedarAnswer {
  ensureSchema();
  // Plain loops and an explicitly built call, not spreads and map(): V8 11.3 (Node 20) can crash with a fatal
  // "unreachable code" when it lazily deoptimizes a builtin's continuation (a spread, a map callback) around
  // this call, which the guard's hot loop provokes. Copying Cedar's answer also gives every answer one shape.
  const call: StatefulAuthorizationCall = {
    principal: request.principal,
    action: request.action,
    resource: request.resource,
    context: request.context,
    entities: request.entities,
    preparsedPolicySetId: setId,
    validateRequest: checkRequest,
  };
  if (checkRequest) call.preparsedSchemaName = SCHEMA_CACHE_NAME;
  const answer = statefulIsAuthorized(call);
  if (answer.type !== 'success') {
    const failures: string[] = [];
    for (const error of answer.errors) failures.push(describe(error));
    return { ok: false, errors: failures };
  }
  const { diagnostics } = answer.response;
  const reasons: string[] = [];
  for (const id of diagnostics.reason) reasons.push(String(id));
  const errors: { policyId: string; message: string }[] = [];
  for (const e of diagnostics.errors) errors.push({ policyId: String(e.policyId), message: describe(e.error) });
  return { ok: true, decision: answer.response.decision === 'allow' ? 'allow' : 'deny', reasons, errors };
}

function toProblem(error: DetailedError): CedarProblem {
  const offset = error.sourceLocations?.[0]?.start ?? error.related?.[0]?.sourceLocations?.[0]?.start;
  return offset === undefined ? { message: describe(error) } : { message: describe(error), offset };
}

/** Cedar's message with its label, help and related notes: the label is often the useful part ("expected ..."). */
function describe(error: DetailedError): string {
  const label = error.sourceLocations?.find((l) => l.label)?.label;
  const related = (error.related ?? []).map((r) => r.message).filter((m) => m !== error.message);
  return [error.message, label, ...related, error.help ? `(${error.help})` : undefined]
    .filter((part): part is string => typeof part === 'string' && part.length > 0)
    .join('; ');
}
