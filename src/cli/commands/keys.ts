import { defineCommand, defineGroup } from '../command.js';
import { adminAccess } from './admin-access.js';
import { ExitCode, type CliIO } from '../io.js';

const USAGE = `Usage:
  tether keys rotate [--issuer URL]   publish a new signing key now; it signs after keys.publish_ahead, and the
                                      old key leaves the JWKS once the longest token it signed has expired
  tether keys list [--issuer URL]     the signing keys and their schedule

Works against the running server's admin API (/admin/keys). The admin key is read from TETHER_ADMIN_KEY,
never from arguments. The issuer defaults to TETHER_ISSUER, then http://127.0.0.1:8080.`;

export interface KeysCommandDeps {
  io: CliIO;
  fetch: typeof fetch;
}

const when = (seconds: unknown) => new Date(Number(seconds) * 1000).toISOString();

/** The admin key as the only header: `rotate` sends no body, so it must not claim a JSON one. */
function access(io: CliIO, issuerFlag: string | undefined): { issuer: string; init: RequestInit } {
  const { issuer, headers } = adminAccess(io, issuerFlag);
  return { issuer, init: { headers: { authorization: headers['authorization'] ?? '' } } };
}

const rotate = defineCommand({
  name: 'keys rotate',
  summary: 'publish a new signing key now; the old one retires after the longest token it signed',
  usage: USAGE,
  options: { issuer: { type: 'string' } },
  run: async ({ values }, deps: KeysCommandDeps) => {
    const { io } = deps;
    const { issuer, init } = access(io, values.issuer);
    const response = await call(deps, `${issuer}/admin/keys/rotate`, { ...init, method: 'POST' });
    if (!response.ok) return report(io, response);
    const plan = response.body as { kid: string; activates_at: number; retiring: { kid: string; retired_at: number }[] };
    io.stdout.write(`New signing key ${plan.kid} is published now and signs from ${when(plan.activates_at)}.\n`);
    for (const r of plan.retiring) io.stdout.write(`Key ${r.kid} keeps verifying until ${when(r.retired_at)}, then leaves the JWKS.\n`);
    return ExitCode.ok;
  },
});

const list = defineCommand({
  name: 'keys list',
  summary: 'the signing keys and their schedule',
  usage: USAGE,
  options: { issuer: { type: 'string' } },
  run: async ({ values }, deps: KeysCommandDeps) => {
    const { io } = deps;
    const { issuer, init } = access(io, values.issuer);
    const response = await call(deps, `${issuer}/admin/keys`, init);
    if (!response.ok) return report(io, response);
    for (const k of (response.body as { keys: Record<string, unknown>[] }).keys) {
      const retires = k['retiredAt'] === null ? '' : `  leaves JWKS ${when(k['retiredAt'])}`;
      io.stdout.write(`${String(k['kid'])}  ${String(k['state']).padEnd(9)}  signs from ${when(k['activatesAt'])}${retires}\n`);
    }
    return ExitCode.ok;
  },
});

export const keysCli = defineGroup<KeysCommandDeps>({
  name: 'keys',
  summary: "rotate the server's signing keys (publish ahead, retire after the longest token)",
  usage: USAGE,
  subcommands: { rotate, list },
});

/** `tether keys`: signing key rotation against a running server. */
export function keysCommand(args: string[], io: CliIO, deps: Omit<KeysCommandDeps, 'io'> = { fetch }): Promise<number> {
  return keysCli(args, { io, ...deps });
}

async function call(deps: KeysCommandDeps, url: string, init: RequestInit) {
  try {
    const response = await deps.fetch(url, init);
    const text = await response.text();
    let body: unknown = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { error: 'invalid_response' };
    }
    return { ok: response.ok, status: response.status, body };
  } catch (error) {
    return { ok: false, status: 0, body: { error: 'network', error_description: (error as Error).message } };
  }
}

function report(io: CliIO, response: { status: number; body: unknown }): number {
  const { error, error_description: description } = response.body as { error?: string; error_description?: string };
  if (response.status === 0) {
    io.stderr.write(`tether keys: cannot reach the server (${description ?? 'network error'})\n`);
    return ExitCode.network;
  }
  if (response.status === 401) {
    io.stderr.write('tether keys: the server refused the admin key\n');
    return ExitCode.unauthorized;
  }
  io.stderr.write(`tether keys: ${error ?? `HTTP ${response.status}`}${description ? `: ${description}` : ''}\n`);
  return ExitCode.failure;
}
