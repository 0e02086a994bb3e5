import { defineCommand, defineGroup } from '../command.js';
import { ExitCode, type CliIO } from '../io.js';
import { adminAccess, adminRequest, reportAdminFailure } from './admin-access.js';

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

const rotate = defineCommand({
  name: 'keys rotate',
  summary: 'publish a new signing key; it signs after keys.publish_ahead',
  usage: USAGE,
  options: { issuer: { type: 'string' } },
  run: async ({ values }, deps: KeysCommandDeps) => {
    const { issuer, headers } = adminAccess(deps.io, values.issuer);
    const response = await adminRequest(deps.fetch, `${issuer}/admin/keys/rotate`, { method: 'POST', headers });
    if (!response.ok) return reportAdminFailure('keys', deps.io, response);
    const plan = response.body as { kid: string; activates_at: number; retiring: { kid: string; retired_at: number }[] };
    deps.io.stdout.write(`New signing key ${plan.kid} is published now and signs from ${when(plan.activates_at)}.\n`);
    for (const r of plan.retiring) deps.io.stdout.write(`Key ${r.kid} keeps verifying until ${when(r.retired_at)}, then leaves the JWKS.\n`);
    return ExitCode.ok;
  },
});

const list = defineCommand({
  name: 'keys list',
  summary: 'the signing keys and their schedule',
  usage: USAGE,
  options: { issuer: { type: 'string' } },
  run: async ({ values }, deps: KeysCommandDeps) => {
    const { issuer, headers } = adminAccess(deps.io, values.issuer);
    const response = await adminRequest(deps.fetch, `${issuer}/admin/keys`, { headers });
    if (!response.ok) return reportAdminFailure('keys', deps.io, response);
    for (const k of (response.body as { keys: Record<string, unknown>[] }).keys) {
      const retires = k['retiredAt'] === null ? '' : `  leaves JWKS ${when(k['retiredAt'])}`;
      deps.io.stdout.write(`${String(k['kid'])}  ${String(k['state']).padEnd(9)}  signs from ${when(k['activatesAt'])}${retires}\n`);
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
export function keysCommand(args: string[], io: CliIO, deps: KeysCommandDeps = { io, fetch }): Promise<number> {
  return keysCli(args, deps);
}
