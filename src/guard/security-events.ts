import { revocationFromSetClaims, type PushedRevocation, type RevocationTarget } from '../events/security-event.js';

/**
 * The Security Event Tokens (RFC 8417) a guard understands, read from a SET's verified claims. Revocations are
 * CAEP `session-revoked` events (parsed by the shared src/events code); CAEP `token-claims-change` events are
 * accepted in the same shape (subject + a `claims` object), so a server can start sending them without a guard
 * upgrade. Tether's server does not send them yet.
 *
 * @see https://openid.net/specs/openid-caep-1_0.html#name-token-claims-change
 */
export const TOKEN_CLAIMS_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/token-claims-change';

/** "The claims of tokens of this grant / user / key / client changed at `eventTimestamp`". */
export interface ClaimsChange {
  seq: number | undefined;
  kind: Exclude<RevocationTarget, 'all'>;
  value: string;
  eventTimestamp: number;
  /** The changed claims with their new values. */
  claims: Readonly<Record<string, unknown>>;
}

export type GuardEvent =
  | { type: 'revocation'; revocation: PushedRevocation }
  | { type: 'claims-change'; change: ClaimsChange }
  | { type: 'unknown'; eventTypes: string[] };

const TARGETS: readonly string[] = ['grant', 'user', 'jkt', 'client'];

/** Reads one verified SET; `unknown` for events a guard does not act on (they still advance the stream). */
export function readSecurityEvent(claims: Record<string, unknown>): GuardEvent {
  const revocation = revocationFromSetClaims(claims);
  if (revocation) return { type: 'revocation', revocation };
  const events = claims['events'];
  if (typeof events !== 'object' || events === null) return { type: 'unknown', eventTypes: [] };
  const change = (events as Record<string, unknown>)[TOKEN_CLAIMS_CHANGE];
  const parsed = change === undefined ? undefined : claimsChange(change, claims['tether']);
  return parsed ? { type: 'claims-change', change: parsed } : { type: 'unknown', eventTypes: Object.keys(events) };
}

function claimsChange(event: unknown, tether: unknown): ClaimsChange | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const { subject, event_timestamp: eventTimestamp, claims } = event as Record<string, unknown>;
  const { id, tether_kind: kind } = (subject ?? {}) as Record<string, unknown>;
  if (typeof id !== 'string' || typeof kind !== 'string' || !TARGETS.includes(kind)) return undefined;
  if (typeof eventTimestamp !== 'number' || typeof claims !== 'object' || claims === null || Array.isArray(claims)) return undefined;
  const seq = (tether as { seq?: unknown } | undefined)?.seq;
  return {
    seq: typeof seq === 'number' ? seq : undefined,
    kind: kind as ClaimsChange['kind'],
    value: id,
    eventTimestamp,
    claims: claims as Record<string, unknown>,
  };
}
