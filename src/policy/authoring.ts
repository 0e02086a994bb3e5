import { readFile } from 'node:fs/promises';
import { parseContextFile, unmetExpectations, type PolicyContextFile } from './context-file.js';
import { DEFAULT_PACK_NAME, DEFAULT_POLICY_PACK } from './default-pack.js';
import { PolicyEngine, type LoadedPolicies } from './engine.js';
import { formatProblem, PolicyInputError, PolicyLoadError } from './errors.js';
import type { PolicySource } from './policy-set.js';
import { readPolicySources } from './sources.js';
import type { PolicyDecision } from './types.js';

/**
 * What `tether policy validate` and `tether policy test` do, apart from argument parsing: kept here so they are
 * tested with the rest of the policy module, and so the CLI never touches Cedar.
 */

/** The default pack as a source list. */
export const DEFAULT_SOURCES: readonly PolicySource[] = [{ name: DEFAULT_PACK_NAME, text: DEFAULT_POLICY_PACK }];

/** Reads a policy path, or the default pack when none is given. */
export async function policySourcesAt(path: string | undefined): Promise<readonly PolicySource[]> {
  return path === undefined ? DEFAULT_SOURCES : readPolicySources(path);
}

/** The outcome of validating a set: the lines to print and whether it is usable. */
export interface Report {
  ok: boolean;
  lines: string[];
}

/** Validates a set against the schema; lists its policies, or every problem with file:line:column. */
export function validateSources(sources: readonly PolicySource[], label: string): Report {
  try {
    const loaded = new PolicyEngine().load(sources);
    return { ok: true, lines: [`${label}: ${loaded.policies.length} policies, valid against the Tether schema`, ...describeSet(loaded)] };
  } catch (error) {
    if (!(error instanceof PolicyLoadError)) throw error;
    return {
      ok: false,
      lines: [`${label}: refused (${error.code})`, ...error.problems.map((p) => `  ${formatProblem(p)}`)],
    };
  }
}

function describeSet(loaded: LoadedPolicies): string[] {
  const lines = loaded.policies.map((p) => `  ${p.effect.padEnd(6)} ${p.id}  (${p.source}:${p.line})`);
  for (const w of loaded.warnings) lines.push(`  warning: ${formatProblem(w)}`);
  return lines;
}

/** Reads and parses a context file; throws {@link PolicyInputError} naming the bad field. */
export async function readContextFile(path: string, currentTime: number): Promise<PolicyContextFile> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    const reason = error instanceof SyntaxError ? `not valid JSON (${error.message})` : `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
    throw new PolicyInputError(path, reason);
  }
  return parseContextFile(raw, currentTime);
}

/** The result of one context file against a set. */
export interface TestResult extends Report {
  decision: PolicyDecision;
}

/**
 * Decides a context file's step against a set and renders the decision: allowed or refused, the determining
 * policies with their locations, the lifetimes and scopes, and whether the file's expectations are met.
 */
export function testContext(sources: readonly PolicySource[], file: PolicyContextFile): TestResult {
  const engine = new PolicyEngine(file.settings);
  engine.load(sources);
  const decision = engine.decide(file.input);
  const where = (id: string) => {
    const p = engine.policy(id);
    return p ? `${id} (${p.location.source}:${p.location.line})` : id;
  };
  const lines: string[] = [];
  if (file.description) lines.push(file.description);
  lines.push(`step:      ${file.input.step}`);
  if (decision.decision === 'allow') {
    lines.push('decision:  allow');
    lines.push(`policies:  ${decision.reasons.map(where).join(', ')}`);
    // Lifetimes matter where tokens are minted; elsewhere print them only when a policy sets one.
    const tokenStep = file.input.step === 'issuance' || file.input.step === 'refresh';
    if (decision.ttl !== undefined) lines.push(`ttl:       ${human(decision.ttl)} at most (and within the configured limits)`);
    else if (tokenStep) lines.push('ttl:       not set by policy (the configured limits apply)');
    if (decision.refreshTtl !== undefined) lines.push(`refresh:   the grant lives ${human(decision.refreshTtl)} at most`);
    lines.push(`scopes:    ${decision.scopes.join(' ') || '(none requested)'}`);
  } else {
    lines.push(`decision:  deny (${decision.cause})`);
    lines.push(`policies:  ${decision.reasons.length > 0 ? decision.reasons.map(where).join(', ') : '(none permits it)'}`);
    lines.push(`message:   ${decision.message}`);
    for (const e of decision.errors ?? []) lines.push(`error:     ${e}`);
  }
  let ok = true;
  if (file.expect) {
    const unmet = unmetExpectations(file.expect, decision);
    ok = unmet.length === 0;
    lines.push(ok ? 'expect:    met' : `expect:    NOT met\n${unmet.map((u) => `  - ${u}`).join('\n')}`);
  }
  return { ok, lines, decision };
}

/** 300 → "5m (300 s)". */
function human(seconds: number): string {
  const unit = seconds % 86400 === 0 ? [86400, 'd'] : seconds % 3600 === 0 ? [3600, 'h'] : seconds % 60 === 0 ? [60, 'm'] : [1, 's'];
  const [size, name] = unit as [number, string];
  return size === 1 ? `${seconds} s` : `${seconds / size}${name} (${seconds} s)`;
}
