import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { defineCommand, defineGroup, UsageError } from '../command.js';
import { ExitCode } from '../io.js';
import { AuthorizedSender } from '../proxy/authorized-sender.js';
import type { ClientDeps } from './client-deps.js';
import { openSession, reportFailure } from './session.js';

const USAGE = `Usage:
  tether workload create NAME --purpose TEXT --resource URI [--resource URI]... --scope S [--scope S]...
                         --expires 30d (--federated ISSUER --subject SUB [--claim k=v]... | --key PUBLIC_KEY_FILE)
  tether workload list                        owner, purpose, last use, expiry; stale ones flagged
  tether workload suspend|resume|delete NAME
  tether workload rotate-key NAME --key PUBLIC_KEY_FILE
Every form takes --issuer URL. It uses your own signed-in session (tether login): only a person creates and
governs workloads. PUBLIC_KEY_FILE is a public JWK (JSON) or PEM; a private key is refused before anything is sent.`;

const DURATION = /^(\d+)\s*(s|m|h|d)?$/;

type Subcommand = 'create' | 'list' | 'suspend' | 'resume' | 'delete' | 'rotate-key';

/** What one subcommand sends: its name (none for list) and the body it was given. */
interface Request {
  sub: Subcommand;
  name?: string;
  body?: Record<string, unknown>;
  issuer: string | undefined;
  json: boolean;
}

const issuerOption = { issuer: { type: 'string' } } as const;

const create = defineCommand({
  name: 'workload create',
  summary: 'create a workload from your own signed-in session',
  usage: USAGE,
  options: {
    ...issuerOption,
    purpose: { type: 'string' },
    resource: { type: 'string', multiple: true },
    scope: { type: 'string', multiple: true },
    expires: { type: 'string' },
    federated: { type: 'string' },
    subject: { type: 'string' },
    claim: { type: 'string', multiple: true },
    key: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
  positionals: true,
  run: async ({ values, positionals }, deps: ClientDeps) => {
    const name = oneName('create', positionals);
    if (!values.purpose) throw new UsageError('--purpose is required: say what the workload is for');
    if (!values.resource?.length) throw new UsageError('--resource is required');
    if (!values.scope?.length) throw new UsageError('--scope is required');
    const expires = values.expires === undefined ? undefined : seconds(values.expires);
    if (expires === undefined) throw new UsageError('--expires is required, e.g. 30d: a workload always ends');
    if ((values.federated === undefined) === (values.key === undefined)) throw new UsageError('give either --federated ISSUER --subject SUB or --key PUBLIC_KEY_FILE');
    const body: Record<string, unknown> = { name, purpose: values.purpose, resources: values.resource, scopes: values.scope, expires_in: expires };
    if (values.federated !== undefined) {
      if (!values.subject) throw new UsageError('--federated needs --subject');
      const claims: Record<string, string> = {};
      for (const pair of values.claim ?? []) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new UsageError(`--claim takes k=v, not ${JSON.stringify(pair)}`);
        claims[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      body['federated'] = { issuer: values.federated, subject: values.subject, claims };
    } else {
      const key = readPublicKey(deps, values.key as string);
      if (typeof key === 'number') return key;
      body['public_key'] = key;
    }
    return send(deps, { sub: 'create', name, body, issuer: values.issuer, json: values.json });
  },
});

const list = defineCommand({
  name: 'workload list',
  summary: 'your workloads: owner, purpose, last use, expiry; stale ones flagged',
  usage: USAGE,
  options: { ...issuerOption, json: { type: 'boolean', default: false } },
  run: async ({ values }, deps: ClientDeps) => send(deps, { sub: 'list', issuer: values.issuer, json: values.json }),
});

function changeState(sub: 'suspend' | 'resume' | 'delete') {
  return defineCommand({
    name: `workload ${sub}`,
    summary: `${sub} one of your workloads`,
    usage: USAGE,
    options: issuerOption,
    positionals: true,
    run: async ({ values, positionals }, deps: ClientDeps) => send(deps, { sub, name: oneName(sub, positionals), issuer: values.issuer, json: false }),
  });
}

const rotateKey = defineCommand({
  name: 'workload rotate-key',
  summary: "replace a key-bound workload's public key",
  usage: USAGE,
  options: { ...issuerOption, key: { type: 'string' } },
  positionals: true,
  run: async ({ values, positionals }, deps: ClientDeps) => {
    const name = oneName('rotate-key', positionals);
    if (!values.key) throw new UsageError('rotate-key needs --key PUBLIC_KEY_FILE');
    const key = readPublicKey(deps, values.key);
    if (typeof key === 'number') return key;
    return send(deps, { sub: 'rotate-key', name, body: { public_key: key }, issuer: values.issuer, json: false });
  },
});

/** `tether workload`: create, list, suspend, resume, delete and re-key workloads over the server's workload API. */
export const workloadCommand = defineGroup({
  name: 'workload',
  summary: 'create, list, suspend, resume, delete and re-key your workload identities (docs/workloads.md)',
  usage: USAGE,
  subcommands: { create, list, suspend: changeState('suspend'), resume: changeState('resume'), delete: changeState('delete'), 'rotate-key': rotateKey },
});

function oneName(sub: Subcommand, positionals: string[]): string {
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) throw new UsageError(`${sub} takes one NAME`);
  return name;
}

/** The public key in a file; a file that holds none (or a private key) is said so, exit 2, before anything is sent. */
function readPublicKey(deps: ClientDeps, path: string): Record<string, unknown> | number {
  try {
    return publicKeyFrom(path);
  } catch (error) {
    deps.io.stderr.write(`tether workload: ${(error as Error).message}\n`);
    return ExitCode.usage;
  }
}

/** Sends one subcommand to the workload API with the person's session (DPoP-bound token, proof per call). */
async function send(deps: ClientDeps, request: Request): Promise<number> {
  const { io } = deps;
  const { sub, name, body } = request;
  try {
    const session = await openSession(deps, { issuer: request.issuer });
    const sender = new AuthorizedSender({ fetch: deps.fetch, tokens: session.tokens, key: session.key, nonces: deps.nonces });
    const base = `${session.profile.issuer}/workloads`;
    const call = async (method: string, url: string, payload?: unknown) => {
      const headers = new Headers(payload === undefined ? {} : { 'content-type': 'application/json' });
      const response = await sender.send({ method, url, headers, ...(payload === undefined ? {} : { body: Buffer.from(JSON.stringify(payload)) }) });
      const text = await response.text();
      let json: Record<string, unknown> = {};
      try {
        json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        json = {};
      }
      return { status: response.status, json };
    };
    const fail = (reply: { status: number; json: Record<string, unknown> }) => {
      io.stderr.write(`tether workload: ${String(reply.json['error_description'] ?? reply.json['error'] ?? `HTTP ${reply.status}`)}\n`);
      return reply.status === 401 ? ExitCode.notSignedIn : ExitCode.failure;
    };

    if (sub === 'create') {
      const reply = await call('POST', base, body);
      if (reply.status !== 201) return fail(reply);
      io.stdout.write(request.json ? `${JSON.stringify(reply.json)}\n` : `Created workload ${String(name)} (${String(reply.json['id'])}), ${describe(reply.json)}\n`);
      return ExitCode.ok;
    }
    const listed = await call('GET', base);
    if (listed.status !== 200) return fail(listed);
    const workloads = (listed.json['workloads'] ?? []) as Record<string, unknown>[];
    if (sub === 'list') {
      if (request.json) io.stdout.write(`${JSON.stringify(workloads)}\n`);
      else if (workloads.length === 0) io.stdout.write('No workloads.\n');
      else for (const w of workloads) io.stdout.write(`${listLine(w)}\n`);
      return ExitCode.ok;
    }
    const target = workloads.find((w) => w['name'] === name || w['id'] === name);
    if (!target) {
      io.stderr.write(`tether workload: you have no workload named ${String(name)}\n`);
      return ExitCode.failure;
    }
    const url = `${base}/${encodeURIComponent(String(target['id']))}`;
    const reply = sub === 'delete' ? await call('DELETE', url) : await call('POST', `${url}/${sub}`, body);
    if (reply.status !== 200) return fail(reply);
    const verb = { suspend: 'Suspended', resume: 'Resumed', delete: 'Deleted', 'rotate-key': 'Re-keyed' }[sub];
    io.stdout.write(`${verb} workload ${String(name)}${sub === 'resume' ? '' : '; its tokens are revoked'}.\n`);
    return ExitCode.ok;
  } catch (error) {
    return reportFailure(io, 'workload', error);
  }
}

function seconds(value: string): number | undefined {
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  const n = Number(match[1]) * ({ s: 1, m: 60, h: 3600, d: 86400 }[match[2] ?? 's'] ?? 1);
  return n > 0 ? n : undefined;
}

/**
 * The public key in a JWK or PEM file. A private key is refused here, before anything leaves the machine: the
 * private half stays where the workload runs.
 */
function publicKeyFrom(path: string): Record<string, unknown> {
  const text = readFileSync(path, 'utf8');
  let privateKey = false;
  try {
    const trimmed = text.trim();
    const jwk = trimmed.startsWith('{') ? (JSON.parse(trimmed) as Record<string, unknown>) : undefined;
    if (jwk) {
      privateKey = ['d', 'p', 'q', 'k'].some((m) => m in jwk);
      if (!privateKey) return jwk;
    } else {
      try {
        createPrivateKey(trimmed);
        privateKey = true;
      } catch {
        return createPublicKey(trimmed).export({ format: 'jwk' }) as Record<string, unknown>;
      }
    }
  } catch {
    throw new Error(`${path} holds no public key (JWK JSON or PEM)`);
  }
  if (privateKey) throw new Error(`${path} holds a private key; give the public key only (it never leaves where the workload runs)`);
  throw new Error(`${path} holds no public key (JWK JSON or PEM)`);
}

const day = (t: unknown) => (typeof t === 'number' ? new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ') : 'never');

function describe(w: Record<string, unknown>): string {
  const how = w['authentication'] === 'federated' ? `federated ${String(w['issuer'])} sub ${String(w['subject'])}` : `key ${String(w['key_thumbprint'])}`;
  return `${(w['scopes'] as string[]).join(' ')} on ${(w['resources'] as string[]).join(' ')}, ${how}, expires ${day(w['expires_at'])}`;
}

function listLine(w: Record<string, unknown>): string {
  const stale = w['stale'] === true ? '  STALE' : '';
  return `${String(w['name']).padEnd(20)} ${String(w['status']).padEnd(9)} owner ${String(w['owner'])}  last used ${day(w['last_used_at'])}  expires ${day(w['expires_at'])}${stale}\n    ${String(w['purpose'])}`;
}
