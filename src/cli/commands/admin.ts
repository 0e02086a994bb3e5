import { defineCommand, defineGroup, UsageError } from '../command.js';
import { hashSecret } from '../../shared/crypto.js';
import { ExitCode, type CliIO } from '../io.js';
import { adminAccess, adminRequest, reportAdminFailure } from './admin-access.js';

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
const SUMMARY = 'revoke grants (by grant, user, device key, client, or all) and list revocations';

const revoke = defineCommand({
  name: 'admin revoke',
  summary: 'revoke grants by grant, user, device key, client, or all device-flow grants',
  usage: USAGE,
  options: {
    grant: { type: 'string' },
    user: { type: 'string' },
    jkt: { type: 'string' },
    client: { type: 'string' },
    'all-device-flow': { type: 'boolean', default: false },
    reason: { type: 'string' },
    issuer: { type: 'string' },
  },
  run: async ({ values }, deps: AdminCommandDeps) => {
    const { io } = deps;
    const chosen = (Object.keys(TARGETS) as (keyof typeof TARGETS)[]).filter((k) => values[k] !== undefined);
    const all = values['all-device-flow'] === true;
    if (chosen.length + (all ? 1 : 0) !== 1) throw new UsageError('name exactly one target');
    const { issuer, headers } = adminAccess(io, values.issuer);
    const kind = all ? 'all' : TARGETS[chosen[0] as keyof typeof TARGETS];
    const body = { kind, ...(all ? {} : { value: values[chosen[0] as keyof typeof TARGETS] }), ...(values.reason ? { reason: values.reason } : {}) };
    const response = await adminRequest(deps.fetch, `${issuer}/admin/revocations`, { method: 'POST', headers, body: JSON.stringify(body) });
    if (!response.ok) return reportAdminFailure('admin', io, response);
    const result = response.body as { grants_revoked: number; revocation: { id: string }; workloads_suspended?: number };
    io.stdout.write(`Revoked ${result.grants_revoked} grant${result.grants_revoked === 1 ? '' : 's'} (revocation ${result.revocation.id}).\n`);
    // Revoking by user offboards the person: their workloads are suspended too (docs/workloads.md).
    if (result.workloads_suspended !== undefined) {
      io.stdout.write(`Suspended ${result.workloads_suspended} workload${result.workloads_suspended === 1 ? '' : 's'} they own; their tokens are revoked.\n`);
    }
    return ExitCode.ok;
  },
});

const revocations = defineCommand({
  name: 'admin revocations',
  summary: 'list the revocations made',
  usage: USAGE,
  options: { since: { type: 'string' }, issuer: { type: 'string' } },
  run: async ({ values }, deps: AdminCommandDeps) => {
    const { io } = deps;
    const { issuer, headers } = adminAccess(io, values.issuer);
    const response = await adminRequest(deps.fetch, `${issuer}/admin/revocations?since=${Number(values.since ?? 0)}`, { headers });
    if (!response.ok) return reportAdminFailure('admin', io, response);
    for (const r of (response.body as { revocations: Record<string, unknown>[] }).revocations) {
      const when = new Date(Number(r['createdAt']) * 1000).toISOString();
      io.stdout.write(`${when}  ${String(r['kind'])} ${String(r['value'] ?? '*')}  grants=${String(r['grantsRevoked'])}  by ${String(r['actor'])} via ${String(r['via'])}: ${String(r['reason'])}\n`);
    }
    return ExitCode.ok;
  },
});

const DEVICE_CLASSES = ['managed', 'unmanaged', 'jump_host', 'automation'];

/** `tether admin devices`: list enrolled device keys, approve one (as a class), or take its trust away. */
const devices = defineCommand({
  name: 'admin devices',
  summary: 'list, approve or revoke enrolled device keys',
  usage: USAGE,
  options: { class: { type: 'string' }, reason: { type: 'string' }, issuer: { type: 'string' } },
  positionals: true,
  run: async ({ values, positionals }, deps: AdminCommandDeps) => {
    const { io } = deps;
    const [action, jkt, ...extra] = positionals;
    const needsKey = action === 'approve' || action === 'revoke';
    if (
      !(action === 'list' || needsKey) ||
      extra.length > 0 ||
      (needsKey ? jkt === undefined : jkt !== undefined) ||
      (values.class !== undefined && (action !== 'approve' || !DEVICE_CLASSES.includes(values.class)))
    ) {
      throw new UsageError(action === undefined ? 'say list, approve or revoke' : 'bad arguments');
    }
    const { issuer, headers } = adminAccess(io, values.issuer);
    if (action === 'list') {
      const response = await adminRequest(deps.fetch, `${issuer}/admin/devices`, { headers });
      if (!response.ok) return reportAdminFailure('admin', io, response);
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
    const response = await adminRequest(deps.fetch, url, { method: 'POST', headers, body: JSON.stringify(body) });
    if (!response.ok) return reportAdminFailure('admin', io, response);
    const device = (response.body as { device: Record<string, unknown> }).device;
    io.stdout.write(
      action === 'approve'
        ? `Approved ${String(device['jkt'])} (${String(device['name'])}) as ${String(device['class'])}.\n`
        : `Revoked trust in ${String(device['jkt'])} (${String(device['name'])}); it counts as unmanaged.\n`,
    );
    return ExitCode.ok;
  },
});

const hashKey = defineCommand({
  name: 'admin hash-key',
  summary: 'hash a new admin key from standard input for the config',
  usage: USAGE,
  options: {},
  run: async (_input, { io }: AdminCommandDeps) => {
    const chunks: Buffer[] = [];
    for await (const chunk of io.stdin) chunks.push(Buffer.from(chunk as Buffer));
    const key = Buffer.concat(chunks).toString('utf8').trim();
    if (key.length < 32) throw new UsageError('give a random key of at least 32 characters on standard input');
    io.stdout.write(`${hashSecret(key)}\n`);
    return ExitCode.ok;
  },
});

export const adminCli = defineGroup<AdminCommandDeps>({
  name: 'admin',
  summary: SUMMARY,
  usage: USAGE,
  subcommands: { revoke, revocations, devices, 'hash-key': hashKey },
});

/** `tether admin`: revocation and key management against a running server's admin API. */
export function adminCommand(args: string[], io: CliIO, deps: AdminCommandDeps = { io, fetch }): Promise<number> {
  return adminCli(args, deps);
}
