import type { CedarAnswer } from './cedar.js';
import type { CompiledPolicy } from './policy-set.js';
import type { PolicyDecision, PolicyDeny, PolicyInput } from './types.js';

/**
 * Turns Cedar's answer into Tether's decision: which policies determined it, what they allow (lifetimes, scopes)
 * and, for a refusal, a sentence for the person. Every rule here errs toward refusing:
 *
 * - a forbid that fails to evaluate refuses (Cedar would skip it, which fails open);
 * - a permit that fails to evaluate and carries `@ttl`, `@refresh_ttl` or `@scopes` refuses too, since skipping
 *   it would silently drop a restriction; a plain permit that fails is only not counted;
 * - lifetimes are the shortest of all determining permits', scopes the intersection of all their `@scopes`.
 */
export function interpret(
  answer: CedarAnswer,
  input: PolicyInput,
  policies: ReadonlyMap<string, CompiledPolicy>,
): PolicyDecision {
  if (!answer.ok) {
    return deny('error', [], 'This request could not be checked against policy.', answer.errors);
  }
  const failed = answer.errors.filter(({ policyId }) => {
    const policy = policies.get(policyId);
    if (!policy) return true;
    const { ttl, refreshTtl, scopes } = policy.annotations;
    return policy.effect === 'forbid' || ttl !== undefined || refreshTtl !== undefined || scopes !== undefined;
  });
  if (failed.length > 0) {
    return deny(
      'error',
      failed.map((e) => e.policyId),
      'This request could not be checked against policy.',
      answer.errors.map((e) => `${e.policyId}: ${e.message}`),
    );
  }

  const determining = answer.reasons
    .map((id) => policies.get(id))
    .filter((p): p is CompiledPolicy => p !== undefined)
    .sort((a, b) => a.order - b.order);
  const reasons = determining.map((p) => p.id);

  if (answer.decision === 'deny') {
    const first = determining[0];
    if (!first) return deny('not_permitted', [], 'No policy allows this request.');
    return deny('forbidden', reasons, first.annotations.reason ?? `Refused by policy "${first.id}".`);
  }

  const shortest = (values: (number | undefined)[]): number | undefined => {
    const set = values.filter((v): v is number => v !== undefined);
    return set.length > 0 ? Math.min(...set) : undefined;
  };
  let ttl = shortest(determining.map((p) => p.annotations.ttl));
  const refreshTtl = shortest(determining.map((p) => p.annotations.refreshTtl));

  // Narrow only: start from what was asked and keep what every restricting permit allows.
  let scopes = [...new Set(input.scopes)];
  const limits = determining.filter((p) => p.annotations.scopes !== undefined);
  for (const p of limits) scopes = scopes.filter((s) => p.annotations.scopes?.includes(s));
  if (limits.length > 0 && scopes.length === 0 && input.scopes.length > 0) {
    const allowed = limits.map((p) => p.annotations.scopes?.join(' ')).join(' / ');
    return deny('no_scope', limits.map((p) => p.id), `Policy allows none of the requested scopes here (allowed: ${allowed}).`);
  }

  // The grant's policy lifetime runs from the approval: a token step past it is refused, and no access token
  // issued before the end may outlive it.
  if ((input.step === 'issuance' || input.step === 'refresh') && refreshTtl !== undefined) {
    const remaining = refreshTtl - Math.max(0, input.now - input.grantCreatedAt);
    if (remaining <= 0) {
      return deny(
        'lifetime',
        determining.filter((p) => p.annotations.refreshTtl !== undefined).map((p) => p.id),
        'This sign-in has reached the longest time policy allows for this API; sign in again.',
      );
    }
    ttl = Math.min(ttl ?? remaining, remaining);
  }

  return {
    decision: 'allow',
    reasons,
    scopes,
    ...(ttl !== undefined ? { ttl } : {}),
    ...(refreshTtl !== undefined ? { refreshTtl } : {}),
  };
}

function deny(cause: PolicyDeny['cause'], reasons: string[], message: string, errors?: string[]): PolicyDeny {
  return { decision: 'deny', reasons, cause, message, ...(errors && errors.length > 0 ? { errors } : {}) };
}
