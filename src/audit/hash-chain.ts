import { createHash } from 'node:crypto';
import type { AuditEvent } from './event.js';

/** The chain starts from a fixed value so the first event is checked like every other. */
export const GENESIS_HASH = 'tether-audit-genesis';

/**
 * JSON with keys sorted at every level, so the same event always hashes the same whatever the order its fields
 * were written in. Written by hand: a dozen lines, and the libraries for it (RFC 8785) do far more than we need.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The hash of an event: SHA-256 over the previous hash and every field but the hash itself. */
export function eventHash(event: Omit<AuditEvent, 'hash'>, dataJson?: string): string {
  const { prevHash, ...content } = event;
  return createHash('sha256').update(prevHash).update('\n').update(canonicalContent(content, dataJson)).digest('base64url');
}

/**
 * canonicalJson(content), with `data` already in canonical form when the caller has it (an append serializes it
 * once for the hash and the row alike): the same text, so the same hash, for a third of the work.
 */
function canonicalContent(content: Omit<AuditEvent, 'hash' | 'prevHash'>, dataJson: string | undefined): string {
  if (dataJson === undefined) return canonicalJson(content);
  const entries = Object.entries(content)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${k === 'data' ? dataJson : canonicalJson(v)}`).join(',')}}`;
}
