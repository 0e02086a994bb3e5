import { parseArgs } from 'node:util';
import { ExitCode, type CliIO } from '../io.js';

const USAGE = `Usage:
  tether keys rotate [--issuer URL]   publish a new signing key now; it signs after keys.publish_ahead, and the
                                      old key leaves the JWKS once the longest token it signed has expired
  tether keys list [--issuer URL]     the signing keys and their schedule

Works against the running server's admin API (/admin/keys). The admin key is read from TETHER_ADMIN_KEY,
never from arguments. The issuer defaults to TETHER_ISSUER, then http://127.0.0.1:8080.`;

export interface KeysCommandDeps {
  fetch: typeof fetch;
}

/** `tether keys`: signing key rotation against a running server. */
export async function keysCommand(args: string[], io: CliIO, deps: KeysCommandDeps = { fetch }): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'rotate' && sub !== 'list') {
    (sub === undefined || sub === '--help' || sub === '-h' ? io.stdout : io.stderr).write(`${USAGE}\n`);
    return sub === undefined || sub === '--help' || sub === '-h' ? ExitCode.ok : ExitCode.usage;
  }
  let values;
  try {
    ({ values } = parseArgs({ args: rest, options: { issuer: { type: 'string' }, help: { type: 'boolean', default: false } } }));
  } catch (error) {
    io.stderr.write(`tether keys: ${(error as Error).message}\n\n${USAGE}\n`);
    return ExitCode.usage;
  }
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return ExitCode.ok;
  }
  const key = io.env['TETHER_ADMIN_KEY'];
  if (!key) {
    io.stderr.write('tether keys: set TETHER_ADMIN_KEY to an admin key (tether serve --dev prints one at first start)\n');
    return ExitCode.usage;
  }
  const issuer = (values.issuer ?? io.env['TETHER_ISSUER'] ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  const init: RequestInit = { headers: { authorization: `Bearer ${key}` } };
  const response = await call(deps, sub === 'rotate' ? `${issuer}/admin/keys/rotate` : `${issuer}/admin/keys`, sub === 'rotate' ? { ...init, method: 'POST' } : init);
  if (!response.ok) return report(io, response);

  const when = (seconds: unknown) => new Date(Number(seconds) * 1000).toISOString();
  if (sub === 'list') {
    for (const k of (response.body as { keys: Record<string, unknown>[] }).keys) {
      const retires = k['retiredAt'] === null ? '' : `  leaves JWKS ${when(k['retiredAt'])}`;
      io.stdout.write(`${String(k['kid'])}  ${String(k['state']).padEnd(9)}  signs from ${when(k['activatesAt'])}${retires}\n`);
    }
    return ExitCode.ok;
  }
  const plan = response.body as { kid: string; activates_at: number; retiring: { kid: string; retired_at: number }[] };
  io.stdout.write(`New signing key ${plan.kid} is published now and signs from ${when(plan.activates_at)}.\n`);
  for (const r of plan.retiring) io.stdout.write(`Key ${r.kid} keeps verifying until ${when(r.retired_at)}, then leaves the JWKS.\n`);
  return ExitCode.ok;
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
