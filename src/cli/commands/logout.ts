import { defineCommand } from '../command.js';
import { isClientError } from '../auth/errors.js';
import { revocationRequest } from '../auth/revocation.js';
import type { Profile } from '../config/profiles.js';
import { ExitCode } from '../io.js';
import { storeLabel } from '../secrets/secret-store.js';
import { styles } from '../ui/format.js';
import { profileFile, type ClientDeps } from './client-deps.js';
import { reportFailure } from './session.js';

const USAGE = `Usage: tether logout [--issuer URL] [--resource URL] [--all]

Revokes the session at the server (RFC 7009; Tether ends the whole grant) and wipes its key and tokens from the
keychain or agent and its entry from the config file. Without flags: the current session.
If the server cannot be reached, local state is still wiped and the exit code is ${ExitCode.network}.`;

/** `tether logout`: revoke at the server, then forget everything here. */
export const logoutCommand = defineCommand({
  name: 'logout',
  summary: 'revoke the session at the server and wipe it here',
  usage: USAGE,
  options: {
    issuer: { type: 'string' },
    resource: { type: 'string' },
    all: { type: 'boolean', default: false },
  },
  run: async ({ values }, deps: ClientDeps) => {
    const { io } = deps;
    try {
      const file = profileFile(deps);
      const targets = values.all ? file.read().profiles : [file.select({ issuer: values.issuer, resource: values.resource })].filter((p) => p !== undefined);
      if (targets.length === 0) {
        io.stderr.write('Not signed in; nothing to do.\n');
        return ExitCode.notSignedIn;
      }
      let code: number = ExitCode.ok;
      for (const profile of targets) {
        const result = await logout(deps, profile);
        file.remove(profile.account);
        if (result !== ExitCode.ok) code = result;
      }
      return code;
    } catch (error) {
      return reportFailure(io, 'logout', error);
    }
  },
});

async function logout(deps: ClientDeps, profile: Profile): Promise<number> {
  const s = styles(deps.tty.stderr);
  const out = deps.io.stderr;
  const store = await deps.secrets.open(profile.secret_store);
  const tokens = await store.readTokens(profile.account).catch(() => undefined);
  let revoked: 'yes' | 'no-secrets' | 'no-endpoint' | 'failed' = 'no-secrets';
  let code: number = ExitCode.ok;
  const token = tokens?.refreshToken ?? tokens?.accessToken;
  if (token && !profile.revocation_endpoint) revoked = 'no-endpoint';
  else if (token && profile.revocation_endpoint) {
    try {
      await revocationRequest(deps.fetch, profile.revocation_endpoint, {
        clientId: profile.client_id,
        token,
        hint: tokens?.refreshToken ? 'refresh_token' : 'access_token',
      });
      revoked = 'yes';
    } catch (error) {
      revoked = 'failed';
      code = isClientError(error, 'network') ? ExitCode.network : ExitCode.failure;
      out.write(`${s.warn} Could not revoke at ${profile.issuer}: ${(error as Error).message}\n`);
    }
  }
  // Wipe locally whatever the server said: a person who logs out wants nothing left here.
  await store.forget(profile.account).catch(() => undefined);
  const what = {
    yes: 'the session was revoked at the server',
    'no-secrets': 'there were no secrets left to revoke with (the session may stay valid at the server until it expires)',
    'no-endpoint': 'the server offers no revocation endpoint, so the session stays valid there until it expires',
    failed: 'the session could NOT be revoked and stays valid at the server until it expires',
  }[revoked];
  out.write(`${revoked === 'yes' ? s.ok : s.warn} Signed out of ${profile.issuer} (${profile.subject}): ${what}; its secrets were wiped from ${storeLabel(store)}.\n`);
  return code;
}
