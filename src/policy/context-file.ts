import { z } from 'zod';
import { parseDuration } from '../shared/duration.js';
import { PolicyInputError } from './errors.js';
import type { NamedNetworks } from './network.js';
import { DEVICE_CLASSES, RESOURCE_TIERS, type PolicyInput, type PolicyDecision } from './types.js';

/**
 * The JSON file `tether policy test --context FILE` reads: one step's input (the same fields as the typed inputs
 * in types.ts), optional engine settings, and optionally what the author expects, so a directory of these files
 * is a test suite for a policy set. See docs/policy.md and docs/policy-examples/.
 *
 * Times may be epoch seconds, an ISO 8601 date, "now", or a duration before `now` such as "-20m", so an example
 * reads as "signed in 20 minutes ago" instead of as arithmetic.
 */
export interface PolicyContextFile {
  description?: string;
  input: PolicyInput;
  settings: { networks?: NamedNetworks; timeZone?: string };
  expect?: PolicyExpectation;
}

/** What a context file expects; only the fields given are checked. */
export interface PolicyExpectation {
  decision?: 'allow' | 'deny';
  reasons?: string[];
  ttl?: number;
  refreshTtl?: number;
  scopes?: string[];
  cause?: string;
}

const time = z.union([z.number(), z.string()]);
const origin = z.object({ ip: z.string(), userAgent: z.string().optional() }).strict();
const user = z.object({ id: z.string().min(1), groups: z.array(z.string()).default([]) }).strict();
const signIn = z
  .object({
    method: z.string().min(1).default('pwd'),
    at: time,
    mfa: z.boolean().optional(),
    phishingResistant: z.boolean().optional(),
    acr: z.string().optional(),
    amr: z.array(z.string()).optional(),
  })
  .strict();
const base = {
  description: z.string().optional(),
  now: time.default('now'),
  client: z.object({ id: z.string().min(1) }).strict(),
  resource: z.object({ uri: z.string().min(1), tier: z.enum(RESOURCE_TIERS) }).strict(),
  device: z
    .object({ jkt: z.string().min(1).nullable().default(null), class: z.enum(DEVICE_CLASSES), enrolled: z.boolean().default(false) })
    .strict()
    .default({ jkt: null, class: 'unmanaged', enrolled: false }),
  scopes: z.array(z.string()).default([]),
  networks: z.record(z.string(), z.array(z.string())).optional(),
  timeZone: z.string().optional(),
  expect: z
    .object({
      decision: z.enum(['allow', 'deny']).optional(),
      reasons: z.array(z.string()).optional(),
      ttl: z.union([z.number(), z.string()]).optional(),
      refreshTtl: z.union([z.number(), z.string()]).optional(),
      scopes: z.array(z.string()).optional(),
      cause: z.enum(['forbidden', 'not_permitted', 'no_scope', 'lifetime', 'error']).optional(),
    })
    .strict()
    .optional(),
};

const fileSchema = z.discriminatedUnion('step', [
  z.object({ step: z.literal('device_authorization'), ...base, requester: origin, environment: z.string().optional() }).strict(),
  z
    .object({
      step: z.literal('approval'),
      ...base,
      user,
      signIn,
      approver: origin,
      requester: origin,
      requestedAt: time.default('now'),
      environment: z.string().optional(),
    })
    .strict(),
  z.object({ step: z.literal('issuance'), ...base, user, signIn, requester: origin, grantCreatedAt: time, environment: z.string().optional() }).strict(),
  z.object({ step: z.literal('refresh'), ...base, user, signIn, requester: origin, grantCreatedAt: time, environment: z.string().optional() }).strict(),
  z
    .object({
      step: z.literal('api'),
      ...base,
      subject: z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('user'), id: z.string().min(1), groups: z.array(z.string()).default([]) }).strict(),
        z.object({ kind: z.literal('workload'), id: z.string().min(1), owner: z.string().min(1) }).strict(),
      ]),
      method: z.string().min(1),
      path: z.string().startsWith('/'),
      origin,
      tokenIssuedAt: time.default('now'),
    })
    .strict(),
]);

/**
 * Parses a context file's JSON. Throws {@link PolicyInputError} naming the first bad field. `currentTime` is what
 * "now" means when the file gives no `now` (epoch seconds).
 */
export function parseContextFile(raw: unknown, currentTime: number): PolicyContextFile {
  const result = fileSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue && issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    throw new PolicyInputError(field, issue?.message ?? 'invalid');
  }
  const { description, networks, timeZone, expect, ...data } = result.data;
  const now = seconds('now', data.now, currentTime);
  const at = (field: string, value: string | number) => seconds(field, value, now);
  let input: PolicyInput;
  switch (data.step) {
    case 'device_authorization':
      input = { ...data, now };
      break;
    case 'approval':
      input = { ...data, now, signIn: { ...data.signIn, at: at('signIn.at', data.signIn.at) }, requestedAt: at('requestedAt', data.requestedAt) };
      break;
    case 'issuance':
    case 'refresh':
      input = { ...data, now, signIn: { ...data.signIn, at: at('signIn.at', data.signIn.at) }, grantCreatedAt: at('grantCreatedAt', data.grantCreatedAt) };
      break;
    case 'api':
      input = { ...data, now, tokenIssuedAt: at('tokenIssuedAt', data.tokenIssuedAt) };
      break;
  }
  const file: PolicyContextFile = {
    input,
    settings: { ...(networks ? { networks } : {}), ...(timeZone ? { timeZone } : {}) },
  };
  if (description !== undefined) file.description = description;
  if (expect) {
    const { ttl, refreshTtl, ...rest } = expect;
    file.expect = {
      ...rest,
      ...(ttl !== undefined ? { ttl: duration('expect.ttl', ttl) } : {}),
      ...(refreshTtl !== undefined ? { refreshTtl: duration('expect.refreshTtl', refreshTtl) } : {}),
    };
  }
  return file;
}

/** The ways a decision differs from what the file expects; empty when it matches. */
export function unmetExpectations(expect: PolicyExpectation, decision: PolicyDecision): string[] {
  const out: string[] = [];
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().every((v, i) => v === [...b].sort()[i]);
  if (expect.decision !== undefined && expect.decision !== decision.decision) {
    out.push(`expected decision ${expect.decision}, got ${decision.decision}`);
  }
  if (expect.reasons !== undefined && !same(expect.reasons, decision.reasons)) {
    out.push(`expected determining policies [${expect.reasons.join(', ')}], got [${decision.reasons.join(', ')}]`);
  }
  if (expect.cause !== undefined && (decision.decision !== 'deny' || decision.cause !== expect.cause)) {
    out.push(`expected cause ${expect.cause}, got ${decision.decision === 'deny' ? decision.cause : 'none (allowed)'}`);
  }
  const allowed = decision.decision === 'allow' ? decision : undefined;
  if (expect.ttl !== undefined && allowed?.ttl !== expect.ttl) out.push(`expected ttl ${expect.ttl}s, got ${allowed?.ttl ?? 'none'}`);
  if (expect.refreshTtl !== undefined && allowed?.refreshTtl !== expect.refreshTtl) {
    out.push(`expected refresh ttl ${expect.refreshTtl}s, got ${allowed?.refreshTtl ?? 'none'}`);
  }
  if (expect.scopes !== undefined && !(allowed && same(expect.scopes, allowed.scopes))) {
    out.push(`expected scopes [${expect.scopes.join(' ')}], got [${allowed?.scopes.join(' ') ?? ''}]`);
  }
  return out;
}

function seconds(field: string, value: string | number, now: number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new PolicyInputError(field, 'must be a finite number of seconds');
    return Math.floor(value);
  }
  const text = value.trim();
  if (text === 'now') return now;
  if (text.startsWith('-')) {
    const back = parseDuration(text.slice(1));
    if (back === undefined) throw new PolicyInputError(field, `"${value}" is not a duration before now such as "-20m"`);
    return now - back;
  }
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new PolicyInputError(field, `"${value}" is not epoch seconds, an ISO date, "now" or "-20m"`);
  return Math.floor(ms / 1000);
}

function duration(field: string, value: string | number): number {
  const s = parseDuration(value);
  if (s === undefined) throw new PolicyInputError(field, `"${value}" is not a duration such as "5m"`);
  return s;
}
