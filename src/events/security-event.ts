/**
 * The revocation Security Event Token (RFC 8417) that the server pushes to guards: CAEP `session-revoked`, with
 * the revocation statement in a `tether` member so a guard can apply it without asking anything. Shared protocol
 * code: the server builds these, the guard parses them; neither side's internals are involved.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8417#section-2
 * @see https://openid.net/specs/openid-caep-1_0.html#name-session-revoked
 */
export const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
export const SET_TYPE = 'secevent+jwt';

/**
 * `workload`: tokens whose `sub` is `workload:<value>`; `owner`: tokens whose `owner` claim is `value` (every
 * workload a person owns, for offboarding).
 */
export type RevocationTarget = 'grant' | 'user' | 'jkt' | 'client' | 'all' | 'workload' | 'owner';

/** What a guard needs of one revocation: "tokens of target=value issued at or before issuedBefore are dead". */
export interface PushedRevocation {
  seq: number;
  kind: RevocationTarget;
  value: string | null;
  /** The cut in seconds, for guards that read only this. */
  issuedBefore: number;
  /** The exact cut in milliseconds, compared with a token's `iat_ms`: at or before it is dead, after it lives. */
  issuedBeforeMs: number;
  /** After this time no token the statement covers can still be valid, so a guard may forget it. */
  relevantUntil: number;
}

/**
 * Claims of the SET for a revocation; `now` (seconds, from the injected clock) is its `iat`. `tether.issued_before_ms`
 * is the exact cut; `issued_before` and `event_timestamp` stay whole seconds (RFC 8417 §2.2 NumericDate).
 */
export function revocationSetClaims(r: PushedRevocation & { id: string; reason: string; actor: string }, issuer: string, now: number) {
  return {
    iss: issuer,
    jti: r.id,
    iat: now,
    events: {
      [SESSION_REVOKED]: {
        subject: { format: 'opaque', id: r.value ?? '*', tether_kind: r.kind },
        event_timestamp: r.issuedBefore,
        initiating_entity: r.actor.startsWith('admin') ? 'admin' : r.actor.startsWith('client:') ? 'user' : 'system',
        reason_admin: { en: r.reason },
      },
    },
    tether: {
      seq: r.seq,
      kind: r.kind,
      value: r.value,
      issued_before: r.issuedBefore,
      issued_before_ms: r.issuedBeforeMs,
      relevant_until: r.relevantUntil,
    },
  };
}

/** Reads the revocation out of a verified SET's claims; undefined when it is not one. */
export function revocationFromSetClaims(claims: Record<string, unknown>): PushedRevocation | undefined {
  const t = claims['tether'] as Record<string, unknown> | undefined;
  const events = claims['events'] as Record<string, unknown> | undefined;
  if (!t || !events || !(SESSION_REVOKED in events)) return undefined;
  const kinds: RevocationTarget[] = ['grant', 'user', 'jkt', 'client', 'all', 'workload', 'owner'];
  const kind = t['kind'];
  if (typeof kind !== 'string' || !kinds.includes(kind as RevocationTarget)) return undefined;
  const { seq, value, issued_before: issuedBefore, issued_before_ms: exact, relevant_until: relevantUntil } = t;
  if (typeof seq !== 'number' || typeof issuedBefore !== 'number' || typeof relevantUntil !== 'number') return undefined;
  if (value !== null && typeof value !== 'string') return undefined;
  if (exact !== undefined && !Number.isSafeInteger(exact)) return undefined;
  // A server from before millisecond cuts meant "at or before second issuedBefore": the end of that second.
  const issuedBeforeMs = typeof exact === 'number' ? exact : issuedBefore * 1000 + 999;
  return { seq, kind: kind as RevocationTarget, value, issuedBefore, issuedBeforeMs, relevantUntil };
}
