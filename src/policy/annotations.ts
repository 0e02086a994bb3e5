import { parseDuration } from '../shared/duration.js';

/**
 * The annotations Tether reads from a policy. Cedar itself ignores annotations; these give a determining policy a
 * say over what the step yields, always in the direction of less (shorter, fewer):
 *
 * - `@id("name")`: the policy's id in decisions, logs and `tether policy test` (default: `file:line`).
 * - `@ttl("5m")`: on a permit, the access-token lifetime it allows at most.
 * - `@refresh_ttl("1h")`: on a permit, how long the grant (and so its refresh tokens) may live at most.
 * - `@scopes("read list")`: on a permit, the only scopes it allows; the requested ones are narrowed to these.
 * - `@reason("...")`: on a forbid, the sentence the person sees when it refuses them.
 */
export interface TetherAnnotations {
  id?: string;
  ttl?: number;
  refreshTtl?: number;
  scopes?: readonly string[];
  reason?: string;
}

/** Annotation names Tether gives a meaning to. Others are allowed (authors' own notes) but reported once. */
export const KNOWN_ANNOTATIONS = ['id', 'ttl', 'refresh_ttl', 'scopes', 'reason', 'description'] as const;

/** Reads Tether's annotations; each problem is a sentence naming the annotation. */
export function readAnnotations(
  effect: 'permit' | 'forbid',
  raw: Readonly<Record<string, string | null>>,
): { annotations: TetherAnnotations; problems: string[]; warnings: string[] } {
  const annotations: TetherAnnotations = {};
  const problems: string[] = [];
  const warnings: string[] = [];
  const text = (name: string): string | undefined => {
    const value = raw[name];
    if (value === undefined) return undefined;
    if (value === null || value.trim() === '') {
      problems.push(`@${name} needs a value, e.g. @${name}("${example(name)}")`);
      return undefined;
    }
    return value.trim();
  };

  const id = text('id');
  if (id !== undefined) annotations.id = id;

  for (const [name, key] of [
    ['ttl', 'ttl'],
    ['refresh_ttl', 'refreshTtl'],
  ] as const) {
    const value = text(name);
    if (value === undefined) continue;
    // A forbid never yields a token, so a lifetime on it would be a silent no-op: refuse it as a mistake.
    if (effect !== 'permit') problems.push(`@${name} only has a meaning on a permit policy`);
    const seconds = parseDuration(value);
    if (seconds === undefined) problems.push(`@${name}("${value}") is not a duration such as "90s", "5m", "12h" or "1d"`);
    else annotations[key] = seconds;
  }

  const scopes = text('scopes');
  if (scopes !== undefined) {
    if (effect !== 'permit') problems.push('@scopes only has a meaning on a permit policy');
    const list = scopes.split(/\s+/).filter((s) => s.length > 0);
    if (list.some((s) => !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s))) problems.push(`@scopes("${scopes}") holds a character no scope may have`);
    else annotations.scopes = [...new Set(list)];
  }

  const reason = text('reason');
  if (reason !== undefined) {
    // A permit never refuses, so its reason would never be shown.
    if (effect !== 'forbid') problems.push('@reason only has a meaning on a forbid policy (it is what a refused person reads)');
    annotations.reason = reason;
  }

  for (const name of Object.keys(raw)) {
    if (!(KNOWN_ANNOTATIONS as readonly string[]).includes(name)) {
      warnings.push(`@${name} means nothing to Tether (known: ${KNOWN_ANNOTATIONS.map((n) => `@${n}`).join(', ')})`);
    }
  }
  return { annotations, problems, warnings };
}

function example(name: string): string {
  return { id: 'my-rule', ttl: '5m', refresh_ttl: '1h', scopes: 'read', reason: 'Why this is refused.' }[name] ?? '...';
}
