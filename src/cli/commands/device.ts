import { defineCommand, defineGroup, UsageError, urlOption } from '../command.js';
import { deviceKey } from '../auth/device-key.js';
import { discover } from '../auth/discovery.js';
import { dpopFormPost, dpopGet, oauthErrorOf } from '../auth/oauth-http.js';
import { ExitCode } from '../io.js';
import { storeLabel } from '../secrets/secret-store.js';
import { profileFile, type ClientDeps } from './client-deps.js';
import { DEFAULT_ISSUER } from './login.js';
import { reportFailure } from './session.js';

const USAGE = `Usage:
  tether device enroll [--name NAME] [--class managed|jump_host] [--issuer URL]
  tether device status [--issuer URL]

This machine has one device key, made on first use and kept only in the OS keychain or the tether agent (never in a
file). 'enroll' asks the server to trust it (POST /devices/enroll, proven by the key); an administrator then
approves it (tether admin devices approve THUMBPRINT --class managed). Every tether login has the device key vouch
for that login's fresh DPoP key, so an approved machine's tokens carry its class (device_class). 'status' shows the
key's thumbprint and how the server sees it (GET /devices/self).

  --name NAME      a name the administrator recognises (default: the server picks device-<thumbprint start>)
  --class CLASS    what to ask to be trusted as: managed (a workstation) or jump_host (default managed)
  --issuer URL     the Tether server (default: $TETHER_ISSUER, then your current session's, then ${DEFAULT_ISSUER})`;

const ENROLLABLE = ['managed', 'jump_host'] as const;

const issuerOption = { issuer: { type: 'string' } } as const;

/**
 * The command an administrator runs to approve `jkt`. A thumbprint may start with `-` (base64url), which a command
 * line would read as a flag: then it goes after `--`.
 */
export function approveLine(jkt: string, cls: string): string {
  return jkt.startsWith('-') ? `tether admin devices approve --class ${cls} -- ${jkt}` : `tether admin devices approve ${jkt} --class ${cls}`;
}

function issuerOf(deps: ClientDeps, flag: string | undefined): string {
  const given = flag ?? deps.io.env['TETHER_ISSUER'];
  const named = given === undefined ? undefined : urlOption(flag === undefined ? 'TETHER_ISSUER' : '--issuer', given);
  return named ?? profileFile(deps).select()?.issuer ?? DEFAULT_ISSUER;
}

const enroll = defineCommand({
  name: 'device enroll',
  summary: "ask the server to trust this machine's device key",
  usage: USAGE,
  options: { ...issuerOption, name: { type: 'string' }, class: { type: 'string' } },
  run: async ({ values }, deps: ClientDeps) => {
    const { io } = deps;
    const requested = values.class ?? 'managed';
    if (!(ENROLLABLE as readonly string[]).includes(requested)) throw new UsageError(`--class is one of ${ENROLLABLE.join(', ')}`);
    const issuer = issuerOf(deps, values.issuer);
    try {
      const metadata = await discover(deps.fetch, issuer);
      const device = await deviceKey(deps.secrets);
      const form = new URLSearchParams({ class: requested });
      if (values.name !== undefined) form.set('name', values.name);
      const reply = await dpopFormPost({ fetch: deps.fetch, key: device.key, nonces: deps.nonces }, `${metadata.issuer}/devices/enroll`, form);
      if (reply.status !== 200 && reply.status !== 202) throw oauthErrorOf(reply, 'The enrollment');
      const status = String(reply.body['status']);
      io.stdout.write(
        [
          `Device key  ${device.key.jkt}${device.created ? '  (new)' : ''}`,
          `            in ${storeLabel(device.store)}; never in a file`,
          `Name        ${String(reply.body['name'])}`,
          status === 'approved'
            ? `Trust       approved as ${String(reply.body['class'])} by ${metadata.issuer}`
            : `Trust       ${status}: an administrator approves it with\n              ${approveLine(device.key.jkt, requested)}`,
          '',
        ].join('\n'),
      );
      return ExitCode.ok;
    } catch (error) {
      return reportFailure(io, 'device enroll', error);
    }
  },
});

const status = defineCommand({
  name: 'device status',
  summary: "this machine's device key and its trust as the server sees it",
  usage: USAGE,
  options: issuerOption,
  run: async ({ values }, deps: ClientDeps) => {
    const { io } = deps;
    const issuer = issuerOf(deps, values.issuer);
    try {
      const metadata = await discover(deps.fetch, issuer);
      const device = await deviceKey(deps.secrets);
      const reply = await dpopGet({ fetch: deps.fetch, key: device.key, nonces: deps.nonces }, `${metadata.issuer}/devices/self`);
      if (reply.status !== 200) throw oauthErrorOf(reply, 'Asking about this device');
      const state = String(reply.body['status']);
      const cls = typeof reply.body['class'] === 'string' ? reply.body['class'] : null;
      const trust: Record<string, string> = {
        approved: `approved as ${cls ?? '?'}: logins from this machine count as ${cls ?? '?'}`,
        pending: `pending: waiting for an administrator (${approveLine(device.key.jkt, 'managed')})`,
        revoked: 'revoked: an administrator took its trust away; logins from this machine count as unmanaged',
        not_enrolled: 'not enrolled: logins from this machine count as unmanaged (tether device enroll)',
      };
      io.stdout.write(
        [
          `Device key  ${device.key.jkt}${device.created ? '  (new: this machine had none)' : ''}`,
          `            in ${storeLabel(device.store)}; never in a file`,
          `Server      ${metadata.issuer}`,
          `Trust       ${trust[state] ?? state}`,
          '',
        ].join('\n'),
      );
      return ExitCode.ok;
    } catch (error) {
      return reportFailure(io, 'device status', error);
    }
  },
});

/** `tether device`: this machine's identity (its device key), enrolled with and judged by the server. */
export const deviceCommand = defineGroup({
  name: 'device',
  summary: "this machine's device key: enroll it, see its trust",
  usage: USAGE,
  subcommands: { enroll, status },
});
