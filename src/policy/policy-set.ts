import { readAnnotations, type TetherAnnotations } from './annotations.js';
import { STEP_ACTIONS } from './cedar-request.js';
import { inspectPolicy, splitPolicies, validatePolicies, type CedarProblem } from './cedar.js';
import { PolicyLoadError, type PolicyLoadErrorCode, type PolicyLocation, type PolicyProblem } from './errors.js';

/** One policy file's text and the name it is reported under (a file name, or "default-pack"). */
export interface PolicySource {
  name: string;
  text: string;
}

/** One policy, ready to be decided with. */
export interface CompiledPolicy {
  id: string;
  effect: 'permit' | 'forbid';
  location: PolicyLocation;
  annotations: TetherAnnotations;
  /** Position among all policies in source order, to pick the first matching forbid's reason. */
  order: number;
  text: string;
}

/** A policy set that parsed and validated against the schema. */
export interface CompiledPolicySet {
  policies: ReadonlyMap<string, CompiledPolicy>;
  /** Policy texts by id, as Cedar takes them. */
  texts: Readonly<Record<string, string>>;
  /**
   * For each Cedar action id, the context attributes some policy that may apply to it reads ('all' when one uses
   * the context whole). Attributes no policy reads cannot change a decision, so a request may leave them out.
   */
  contextReads: ReadonlyMap<string, ReadonlySet<string> | 'all'>;
  warnings: readonly PolicyProblem[];
}

/**
 * Parses and validates policy sources as one set. Nothing is half-accepted: any problem throws a
 * {@link PolicyLoadError} listing every problem of the first kind found (syntax, then annotations and ids, then
 * the schema), each with its file, line and column.
 */
export function compilePolicies(sources: readonly PolicySource[]): CompiledPolicySet {
  const parsed: { source: PolicySource; policies: string[] }[] = [];
  const syntax: PolicyProblem[] = [];
  const templates: PolicyProblem[] = [];
  const empty: PolicyProblem[] = [];
  for (const source of sources) {
    const split = splitPolicies(source.text);
    if ('problems' in split) syntax.push(...split.problems.map((p) => locate(p, source)));
    else if (split.templates > 0) {
      templates.push({ message: `${source.name} holds a policy template (?principal / ?resource); Tether takes static policies only` });
    } else if (split.policies.length === 0) {
      // A file caught mid-write (truncated, not yet filled) parses as empty; accepting it would silently drop
      // its policies, perhaps a forbid, until the write completes. Removing a file is how policies are dropped.
      empty.push({ message: `${source.name} holds no policy (delete the file to drop its policies)`, location: { source: source.name, line: 1, column: 1 } });
    } else parsed.push({ source, policies: split.policies });
  }
  if (syntax.length > 0) throw new PolicyLoadError('policy_syntax', syntax);
  if (templates.length > 0) throw new PolicyLoadError('policy_template', templates);
  if (empty.length > 0 || sources.length === 0) {
    throw new PolicyLoadError('policy_empty', sources.length === 0 ? [{ message: 'no policy file found' }] : empty);
  }

  const policies = new Map<string, CompiledPolicy>();
  const texts: Record<string, string> = {};
  const warnings: PolicyProblem[] = [];
  const problems: { code: PolicyLoadErrorCode; problem: PolicyProblem }[] = [];
  const reads: { actions: readonly string[] | 'all'; attributes: ReadonlySet<string> | 'all' }[] = [];
  let order = 0;
  for (const { source, policies: parts } of parsed) {
    for (const { text, offset } of placeParts(source.text, parts)) {
      const location = { source: source.name, ...lineColumn(source.text, offset) };
      const { effect, annotations: raw, contextAttributes, actions } = inspectPolicy(text);
      reads.push({ actions, attributes: contextAttributes });
      const read = readAnnotations(effect, raw);
      // Without @id, file:line names a policy; two on one line also need the column.
      const byLine = `${source.name}:${location.line}`;
      const id = read.annotations.id ?? (policies.has(byLine) ? `${byLine}:${location.column}` : byLine);
      const at = { ...location, policyId: id };
      for (const message of read.problems) problems.push({ code: 'policy_annotation', problem: { message, location: at } });
      for (const message of read.warnings) warnings.push({ message, location: at });
      const clash = policies.get(id);
      if (clash) {
        const where = `${clash.location.source}:${clash.location.line}`;
        problems.push({ code: 'policy_duplicate_id', problem: { message: `id "${id}" is already used at ${where}`, location: at } });
        continue;
      }
      policies.set(id, { id, effect, location: at, annotations: read.annotations, order: order++, text });
      texts[id] = text;
    }
  }
  const first = problems[0];
  if (first) throw new PolicyLoadError(first.code, problems.filter((p) => p.code === first.code).map((p) => p.problem));
  const validation = validatePolicies(texts);
  const inPolicy = (p: CedarProblem): PolicyProblem => {
    const policy = p.policyId === undefined ? undefined : policies.get(p.policyId);
    if (!policy) return { message: p.message };
    return locateIn(p, policy);
  };
  if (validation.errors.length > 0) throw new PolicyLoadError('policy_invalid', inSourceOrder(validation.errors.map(inPolicy)));
  warnings.push(...validation.warnings.map(inPolicy));
  return { policies, texts, warnings, contextReads: readsByAction(reads) };
}

function readsByAction(
  reads: readonly { actions: readonly string[] | 'all'; attributes: ReadonlySet<string> | 'all' }[],
): Map<string, ReadonlySet<string> | 'all'> {
  const out = new Map<string, Set<string> | 'all'>();
  for (const action of Object.values(STEP_ACTIONS)) {
    let needed: Set<string> | 'all' = new Set();
    for (const r of reads) {
      if (r.actions !== 'all' && !r.actions.includes(action)) continue;
      if (r.attributes === 'all') {
        needed = 'all';
        break;
      }
      for (const a of r.attributes) needed.add(a);
    }
    out.set(action, needed);
  }
  return out;
}

/** Cedar reports validation problems by policy id; an author reads them top to bottom. */
function inSourceOrder(problems: PolicyProblem[]): PolicyProblem[] {
  const key = (p: PolicyProblem) => [p.location?.source ?? '', p.location?.line ?? 0, p.location?.column ?? 0] as const;
  return [...problems].sort((a, b) => {
    const [sa, la, ca] = key(a);
    const [sb, lb, cb] = key(b);
    return sa === sb ? la - lb || ca - cb : sa < sb ? -1 : 1;
  });
}

/** Cedar hands back verbatim slices but sorted by its ids (policy0, policy1, policy10, policy2...): find each one. */
function placeParts(text: string, parts: readonly string[]): { text: string; offset: number }[] {
  const used = new Set<number>();
  const placed = parts.map((part) => {
    let at = text.indexOf(part);
    while (at !== -1 && used.has(at)) at = text.indexOf(part, at + 1);
    if (at !== -1) used.add(at);
    return { text: part, offset: at === -1 ? 0 : at };
  });
  return placed.sort((a, b) => a.offset - b.offset);
}

/** A problem whose byte offset is into the whole source. */
function locate(problem: CedarProblem, source: PolicySource): PolicyProblem {
  if (problem.offset === undefined) return { message: problem.message, location: { source: source.name, line: 1, column: 1 } };
  const at = charIndex(source.text, problem.offset);
  return { message: problem.message, location: { source: source.name, ...lineColumn(source.text, at) } };
}

/** A problem whose byte offset is into one policy's text: shift it by where the policy starts in its file. */
function locateIn(problem: CedarProblem, policy: CompiledPolicy): PolicyProblem {
  const { location } = policy;
  if (problem.offset === undefined) return { message: stripPolicyPrefix(problem.message), location };
  const within = lineColumn(policy.text, charIndex(policy.text, problem.offset));
  const line = location.line + within.line - 1;
  const column = within.line === 1 ? location.column + within.column - 1 : within.column;
  return { message: stripPolicyPrefix(problem.message), location: { ...location, line, column } };
}

/** Cedar puts "for policy `x`, " in validation messages; the location already names the policy. */
function stripPolicyPrefix(message: string): string {
  return message.replace(/for policy `[^`]*`, /g, '');
}

/** Cedar reports UTF-8 byte offsets; JavaScript strings index UTF-16 units. */
function charIndex(text: string, byteOffset: number): number {
  if (/^[\x00-\x7F]*$/.test(text)) return byteOffset;
  return Buffer.from(text, 'utf8').subarray(0, byteOffset).toString('utf8').length;
}

function lineColumn(text: string, index: number): { line: number; column: number } {
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  return { line, column: index - before.lastIndexOf('\n') };
}
