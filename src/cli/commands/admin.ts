import { parseArgs } from 'node:util';
import { hashSecret } from '../../shared/crypto.js';
import { ExitCode, type CliIO } from '../io.js';

const USAGE = `Usage:
  tether admin revoke (--grant ID | --user NAME | --jkt THUMBPRINT | --client ID | --all-device-flow)
                      [--reason TEXT] [--issuer URL]
  tether admin revocations [--since SECONDS] [--issuer URL]
  tether admin devices list [--issuer URL]
  tether admin devices approve JKT [--class managed|jump_host|automation|unmanaged] [--reason TEXT] [--issuer URL]
  tether admin devices revoke JKT [--reason TEXT] [--issuer URL]
  tether admin hash-key            (reads a new admin key on standard input, prints its hash for the config)

The admin key is read from TETHER_ADMIN_KEY, never from arguments (they end up in shell history).
The issuer defaults to TETHER_ISSUER, then http://127.0.0.1:8080.`;

export interface AdminCommandDeps {
  io: CliIO;
  fetch: typeof fetch;
}

const TARGETS = { grant: 'grant', user: 'user', jkt: 'jkt', client: 'client' } as const;

/** `tether admin`: revocation and key management against a running server's admin API. */
export async function adminCommand(args: string[], io: CliIO, deps: AdminCommandDeps = { io, fetch }): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'hash-key') return hashKey(io);
  if (sub === 'devices') return devicesCommand(rest, io, deps);
  if (sub !== 'revoke' && sub !== 'revocations') {
    io.stderr.write(`${USAGE}\n`);
    return sub === undefined || sub === '--help' ? ExitCode.ok : ExitCode.usage;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        grant: { type: 'string' },
        user: { type: 'string' },
        jkt: { type: 'string' },
        client: { type: 'string' },
        'all-device-flow': { type: 'boolean', default: false },
        reason: { type: 'string' },
        since: { type: 'string' },
        issuer: { type: 'string' },
      },
    }));
  } catch (error) {
    io.stderr.write(`tether admin: ${(error as Error).message}\n\n${USAGE}\n`);
    return ExitCode.usage;
  }
  const key = io.env['TETHER_ADMIN_KEY'];
  if (!key) {
    io.stderr.write('tether admin: set TETHER_ADMIN_KEY to an admin key (tether serve --dev prints one at first start)\n');
    return ExitCode.usage;
  }
  const issuer = (values.issuer ?? io.env['TETHER_ISSUER'] ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

  if (sub === 'revocations') {
    const response = await call(deps, `${issuer}/admin/revocations?since=${Number(values.since ?? 0)}`, { headers });
    if (!response.ok) return report(io, response);
    for (const r of (response.body as { revocations: Record<string, unknown>[] }).revocations) {
      const when = new Date(Number(r['createdAt']) * 1000).toISOString();
      io.stdout.write(`${when}  ${String(r['kind'])} ${String(r['value'] ?? '*')}  grants=${String(r['grantsRevoked'])}  by ${String(r['actor'])} via ${String(r['via'])}: ${String(r['reason'])}\n`);
    }
    return ExitCode.ok;
  }

  const chosen = (Object.keys(TARGETS) as (keyof typeof TARGETS)[]).filter((k) => values[k] !== undefined);
  const all = values['all-device-flow'] === true;
  if (chosen.length + (all ? 1 : 0) !== 1) {
    io.stderr.write(`tether admin revoke: name exactly one target\n\n${USAGE}\n`);
    return ExitCode.usage;
  }
  const kind = all ? 'all' : TARGETS[chosen[0] as keyof typeof TARGETS];
  const body = { kind, ...(all ? {} : { value: values[chosen[0] as keyof typeof TARGETS] }), ...(values.reason ? { reason: values.reason } : {}) };
  const response = await call(deps, `${issuer}/admin/revocations`, { method: 'POST', headers, body: JSON.stringify(body) });
  if (!response.ok) return report(io, response);
  const result = response.body as { grants_revoked: number; revocation: { id: string }; workloads_suspended?: number };
  io.stdout.write(`Revoked ${result.grants_revoked} grant${result.grants_revoked === 1 ? '' : 's'} (revocation ${result.revocation.id}).\n`);
  // Revoking by user offboards the person: their workloads are suspended too (docs/workloads.md).
  if (result.workloads_suspended !== undefined) {
    io.stdout.write(`Suspended ${result.workloads_suspended} workload${result.workloads_suspended === 1 ? '' : 's'} they own; their tokens are revoked.\n`);
  }
  return ExitCode.ok;
}

const DEVICE_CLASSES = ['managed', 'unmanaged', 'jump_host', 'automation'];

/** `tether admin devices`: list enrolled device keys, approve one (as a class), or take its trust away. */
async function devicesCommand(args: string[], io: CliIO, deps: AdminCommandDeps): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { class: { type: 'string' }, reason: { type: 'string' }, issuer: { type: 'string' } },
    });
  } catch (error) {
    io.stderr.write(`tether admin devices: ${(error as Error).message}\n\n${USAGE}\n`);
    return ExitCode.usage;
  }
  const { values, positionals } = parsed;
  const [action, jkt, ...extra] = positionals;
  const needsKey = action === 'approve' || action === 'revoke';
  if (
    !(action === 'list' || needsKey) ||
    extra.length > 0 ||
    (needsKey ? jkt === undefined : jkt !== undefined) ||
    (values.class !== undefined && (action !== 'approve' || !DEVICE_CLASSES.includes(values.class)))
  ) {
    io.stderr.write(`tether admin devices: ${action === undefined ? 'say list, approve or revoke' : 'bad arguments'}\n\n${USAGE}\n`);
    return ExitCode.usage;
  }
  const key = io.env['TETHER_ADMIN_KEY'];
  if (!key) {
    io.stderr.write('tether admin: set TETHER_ADMIN_KEY to an admin key (tether serve --dev prints one at first start)\n');
    return ExitCode.usage;
  }
  const issuer = (values.issuer ?? io.env['TETHER_ISSUER'] ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

  if (action === 'list') {
    const response = await call(deps, `${issuer}/admin/devices`, { headers });
    if (!response.ok) return report(io, response);
    const devices = (response.body as { devices: Record<string, unknown>[] }).devices;
    if (devices.length === 0) io.stdout.write('No device has enrolled.\n');
    for (const d of devices) {
      const when = new Date(Number(d['enrolled_at']) * 1000).toISOString();
      const cls = d['status'] === 'approved' ? String(d['class']) : `asks ${String(d['requested_class'])}`;
      io.stdout.write(`${String(d['jkt'])}  ${String(d['status']).padEnd(8)}  ${cls.padEnd(18)}  ${String(d['name'])}  enrolled ${when}\n`);
    }
    return ExitCode.ok;
  }
  const body = { ...(values.class ? { class: values.class } : {}), ...(values.reason ? { reason: values.reason } : {}) };
  const url = `${issuer}/admin/devices/${encodeURIComponent(jkt ?? '')}/${action}`;
  const response = await call(deps, url, { method: 'POST', headers, body: JSON.stringify(body) });
  if (!response.ok) return report(io, response);
  const device = (response.body as { device: Record<string, unknown> }).device;
  io.stdout.write(
    action === 'approve'
      ? `Approved ${String(device['jkt'])} (${String(device['name'])}) as ${String(device['class'])}.\n`
      : `Revoked trust in ${String(device['jkt'])} (${String(device['name'])}); it counts as unmanaged.\n`,
  );
  return ExitCode.ok;
}

async function call(deps: AdminCommandDeps, url: string, init: RequestInit) {
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
    io.stderr.write(`tether admin: cannot reach the server (${description ?? 'network error'})\n`);
    return ExitCode.network;
  }
  if (response.status === 401) {
    io.stderr.write('tether admin: the server refused the admin key\n');
    return ExitCode.unauthorized;
  }
  io.stderr.write(`tether admin: ${error ?? `HTTP ${response.status}`}${description ? `: ${description}` : ''}\n`);
  return ExitCode.failure;
}

async function hashKey(io: CliIO): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(Buffer.from(chunk as Buffer));
  const key = Buffer.concat(chunks).toString('utf8').trim();
  if (key.length < 32) {
    io.stderr.write('tether admin hash-key: give a random key of at least 32 characters on standard input\n');
    return ExitCode.usage;
  }
  io.stdout.write(`${hashSecret(key)}\n`);
  return ExitCode.ok;
}
