import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
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

/** `tether workload`: create, list, suspend, resume, delete and re-key workloads over the server's workload API. */
export async function workloadCommand(args: string[], deps: ClientDeps): Promise<number> {
  const { io } = deps;
  const sub = args[0];
  let parsed;
  try {
    parsed = parseArgs({
      args: args.slice(1),
      allowPositionals: true,
      options: {
        issuer: { type: 'string' },
        purpose: { type: 'string' },
        resource: { type: 'string', multiple: true },
        scope: { type: 'string', multiple: true },
        expires: { type: 'string' },
        federated: { type: 'string' },
        subject: { type: 'string' },
        claim: { type: 'string', multiple: true },
        key: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    io.stderr.write(`tether workload: ${(error as Error).message}\n\n${USAGE}\n`);
    return ExitCode.usage;
  }
  const { values, positionals } = parsed;
  if (values.help || sub === '--help' || sub === '-h') {
    io.stdout.write(`${USAGE}\n`);
    return ExitCode.ok;
  }
  const usage = (message: string) => {
    io.stderr.write(`tether workload: ${message}\n\n${USAGE}\n`);
    return ExitCode.usage;
  };
  if (!sub || !['create', 'list', 'suspend', 'resume', 'delete', 'rotate-key'].includes(sub)) return usage('name a subcommand');
  const name = positionals[0];
  if (sub !== 'list' && (!name || positionals.length > 1)) return usage(`${sub} takes one NAME`);

  let body: Record<string, unknown> | undefined;
  try {
    if (sub === 'create') {
      if (!values.purpose) return usage('--purpose is required: say what the workload is for');
      if (!values.resource?.length) return usage('--resource is required');
      if (!values.scope?.length) return usage('--scope is required');
      const expires = values.expires === undefined ? undefined : seconds(values.expires);
      if (expires === undefined) return usage('--expires is required, e.g. 30d: a workload always ends');
      if ((values.federated === undefined) === (values.key === undefined)) return usage('give either --federated ISSUER --subject SUB or --key PUBLIC_KEY_FILE');
      body = { name, purpose: values.purpose, resources: values.resource, scopes: values.scope, expires_in: expires };
      if (values.federated !== undefined) {
        if (!values.subject) return usage('--federated needs --subject');
        const claims: Record<string, string> = {};
        for (const pair of values.claim ?? []) {
          const eq = pair.indexOf('=');
          if (eq <= 0) return usage(`--claim takes k=v, not ${JSON.stringify(pair)}`);
          claims[pair.slice(0, eq)] = pair.slice(eq + 1);
        }
        body['federated'] = { issuer: values.federated, subject: values.subject, claims };
      } else {
        body['public_key'] = publicKeyFrom(values.key as string);
      }
    } else if (sub === 'rotate-key') {
      if (!values.key) return usage('rotate-key needs --key PUBLIC_KEY_FILE');
      body = { public_key: publicKeyFrom(values.key) };
    }
  } catch (error) {
    io.stderr.write(`tether workload: ${(error as Error).message}\n`);
    return ExitCode.usage;
  }

  try {
    const session = await openSession(deps, { issuer: values.issuer });
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
      io.stdout.write(values.json ? `${JSON.stringify(reply.json)}\n` : `Created workload ${name} (${String(reply.json['id'])}), ${describe(reply.json)}\n`);
      return ExitCode.ok;
    }
    const list = await call('GET', base);
    if (list.status !== 200) return fail(list);
    const workloads = (list.json['workloads'] ?? []) as Record<string, unknown>[];
    if (sub === 'list') {
      if (values.json) io.stdout.write(`${JSON.stringify(workloads)}\n`);
      else if (workloads.length === 0) io.stdout.write('No workloads.\n');
      else for (const w of workloads) io.stdout.write(`${listLine(w)}\n`);
      return ExitCode.ok;
    }
    const target = workloads.find((w) => w['name'] === name || w['id'] === name);
    if (!target) {
      io.stderr.write(`tether workload: you have no workload named ${name}\n`);
      return ExitCode.failure;
    }
    const url = `${base}/${encodeURIComponent(String(target['id']))}`;
    const reply = sub === 'delete' ? await call('DELETE', url) : await call('POST', `${url}/${sub}`, body);
    if (reply.status !== 200) return fail(reply);
    const verb = { suspend: 'Suspended', resume: 'Resumed', delete: 'Deleted', 'rotate-key': 'Re-keyed' }[sub];
    io.stdout.write(`${verb} workload ${name}${sub === 'resume' ? '' : '; its tokens are revoked'}.\n`);
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
