import * as nodeCrypto from 'node:crypto';
import type { AuditEvent } from './event.js';

/** The chain starts from a fixed value so the first event is checked like every other. */
export const GENESIS_HASH = 'tether-audit-genesis';

/**
 * JSON with keys sorted at every level, so the same event always hashes the same whatever the order its fields
 * were written in. Written by hand: a dozen lines, and the libraries for it (RFC 8785) do far more than we need.
 * Every append serializes its event's data with it, so a value already in canonical shape (plain objects whose
 * keys are in order, as the hot paths write their event data) goes straight to the native JSON.stringify, which
 * writes the same text; anything else is written by the loops below. `Array.prototype.sort` without a comparator
 * orders keys by UTF-16 code units, as `<` does, so the text is the one every earlier version wrote.
 */
export function canonicalJson(value: unknown): string {
  if (value !== null && typeof value === 'object' && inCanonicalShape(value)) return JSON.stringify(value);
  return writeCanonical(value);
}

function writeCanonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) {
    // As `value.map(canonicalJson).join(',')` wrote it: a hole, or an element with no JSON (a function), is empty.
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + (i in value ? (writeCanonical(value[i]) ?? '') : '');
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const v = record[key];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${writeCanonical(v)}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * Whether JSON.stringify writes exactly writeCanonical's text for `value`: only plain objects (no toJSON, no
 * boxed primitives or class instances) with their own keys already in code-unit order (Object.keys order is the
 * order JSON.stringify writes, integer-like keys first), arrays, and JSON primitives; no functions or symbols,
 * which the two treat differently, and no array holes. `undefined` is fine where both drop it (a property) or
 * both write null (an array element).
 */
function inCanonicalShape(value: object): boolean {
  if (Array.isArray(value)) {
    const list = value as unknown[];
    for (let i = 0; i < list.length; i++) {
      if (!(i in list)) return false;
      const v = list[i];
      if (v !== undefined && !valueInShape(v)) return false;
    }
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const record = value as Record<string, unknown>;
  let previous: string | undefined;
  for (const key of Object.keys(record)) {
    if (previous !== undefined && !(previous < key)) return false;
    previous = key;
    const v = record[key];
    if (v !== undefined && !valueInShape(v)) return false;
  }
  return true;
}

function valueInShape(v: unknown): boolean {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
      return true;
    case 'object':
      return v === null || inCanonicalShape(v);
    default:
      return false;
  }
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
