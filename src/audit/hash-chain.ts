import * as nodeCrypto from 'node:crypto';
import type { AuditEvent } from './event.js';

/** The chain starts from a fixed value so the first event is checked like every other. */
export const GENESIS_HASH = 'tether-audit-genesis';

/**
 * JSON with keys sorted at every level, so the same event always hashes the same whatever the order its fields
 * were written in. Written by hand: a dozen lines, and the libraries for it (RFC 8785) do far more than we need.
 * Loops rather than entries/filter/map chains: every append serializes its event's data with it, and the
 * intermediate arrays cost more than the text. `Array.prototype.sort` without a comparator orders keys by UTF-16
 * code units, as `<` does, so the text is the one every earlier version wrote.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const v = record[key];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${canonicalJson(v)}`;
    first = false;
  }
  return `${out}}`;
}

/** The hash of an event: SHA-256 over the previous hash and every field but the hash itself. */
export function eventHash(event: Omit<AuditEvent, 'hash'>): string {
  const { prevHash, ...content } = event;
  return linkHash(prevHash, canonicalJson(content));
}

/** The fields an event's hash covers besides `prevHash` and `data`, every one present (null when empty). */
export type ChainedContent = { [K in keyof Omit<AuditEvent, 'hash' | 'prevHash' | 'data'>]-?: Exclude<AuditEvent[K], undefined> };

/**
 * The hash of a freshly appended event, from its fields and its `data` already in canonical JSON: the same bytes
 * as {@link eventHash} (so the same hash, and `tether audit verify` reads old and new events alike), written in
 * the canonical key order directly instead of sorting the keys per event. Only for content with exactly these
 * fields, as an append builds it; verification keeps the general path.
 */
export function appendedEventHash(prevHash: string, c: ChainedContent, dataJson: string): string {
  const s = JSON.stringify;
  // Keys in code-unit order: at, clientId, data, deviceAuthorizationId, grantId, id, jkt, jti, parentId, seq, type, userId.
  const text =
    `{"at":${s(c.at)},"clientId":${s(c.clientId)},"data":${dataJson},"deviceAuthorizationId":${s(c.deviceAuthorizationId)}` +
    `,"grantId":${s(c.grantId)},"id":${s(c.id)},"jkt":${s(c.jkt)},"jti":${s(c.jti)},"parentId":${s(c.parentId)}` +
    `,"seq":${s(c.seq)},"type":${s(c.type)},"userId":${s(c.userId)}}`;
  return linkHash(prevHash, text);
}

/** crypto.hash (Node 20.12 and later): the same digest without a Hash object per event. */
const oneShot = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'base64url') => string }).hash;

function linkHash(prevHash: string, contentJson: string): string {
  const text = `${prevHash}\n${contentJson}`;
  return oneShot ? oneShot('sha256', text, 'base64url') : nodeCrypto.createHash('sha256').update(text, 'utf8').digest('base64url');
}
