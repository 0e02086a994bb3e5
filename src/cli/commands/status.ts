import { defineCommand } from '../command.js';
import type { Profile } from '../config/profiles.js';
import { ExitCode } from '../io.js';
import { storeLabel } from '../secrets/secret-store.js';
import { formatDuration, styles } from '../ui/format.js';
import { profileFile, type ClientDeps } from './client-deps.js';
import { openSession, reportFailure } from './session.js';
import { askServer, type ServerView } from '../auth/own-session.js';

const USAGE = `Usage: tether status [--issuer URL] [--resource URL]

Shows each session: who is signed in, where, for which API and scopes, how long the access token has left, the
DPoP key's thumbprint and which store holds the secrets, and asks the server whether the session still lives
(within 3 s; offline, it shows the local state and says so). Never shows a token.
Exits 0 when the shown sessions are usable, ${ExitCode.revoked} when the server revoked one, ${ExitCode.notSignedIn} when there is none,
one ended, or its secrets are gone.`;

/** `tether status`: what `gh auth status` shows, plus the key and where the secrets are. */
export const statusCommand = defineCommand({
  name: 'status',
  summary: 'who is signed in, where, for what, until when, with which key and secret store',
  usage: USAGE,
  options: { issuer: { type: 'string' }, resource: { type: 'string' } },
  run: async ({ values }, deps: ClientDeps) => {
    const { io } = deps;
    try {
      const file = profileFile(deps);
      const config = file.read();
      const issuer = values.issuer?.replace(/\/+$/, '');
      const shown = config.profiles.filter(
        (p) => (issuer === undefined || p.issuer === issuer) && (values.resource === undefined || p.resource === values.resource),
      );
      if (shown.length === 0) {
        io.stderr.write('Not signed in. Run tether login.\n');
        return ExitCode.notSignedIn;
      }
      let code: number = ExitCode.ok;
      for (const profile of shown) {
        const current = config.current?.issuer === profile.issuer && config.current.resource === profile.resource;
        const state = await describe(deps, profile, current);
        if (state !== 'usable' && code === ExitCode.ok) code = state === 'revoked' ? ExitCode.revoked : ExitCode.notSignedIn;
      }
      return code;
    } catch (error) {
      return reportFailure(io, 'status', error);
    }
  },
});

async function describe(deps: ClientDeps, profile: Profile, current: boolean): Promise<'usable' | 'revoked' | 'unusable'> {
  const s = styles(deps.tty.stdout);
  const store = await deps.secrets.open(profile.secret_store);
  // Ask the store itself: the config file alone cannot know that the agent has stopped and forgotten.
  const [key, tokens] = await Promise.all([
    store.loadKey(profile.account).catch(() => undefined),
    store.readTokens(profile.account).catch(() => undefined),
  ]);
  const usable = Boolean(key && key.jkt === profile.key_thumbprint && tokens);
  const server = usable ? await askServer({ ...deps, ...(await openSession(deps, { issuer: profile.issuer, resource: profile.resource })), endpoint: profile.session_endpoint }) : undefined;
  // A refresh while asking may have renewed the token: show what is stored now.
  const now = usable ? await store.readTokens(profile.account).catch(() => tokens) : tokens;
  const left = (now?.accessTokenExpiresAt ?? profile.access_token_expires_at) - deps.now();
  const renewal = tokens?.refreshToken ? 'renewed automatically while the session lasts' : 'no refresh token: log in again when it ends';
  const ended = server?.state === 'revoked' || server?.state === 'ended';
  const access = !usable ? '(unavailable)' : ended ? s.red('unusable: the session ended at the server') : left > 0 ? `valid for ${formatDuration(left)}; ${renewal}` : `expired ${formatDuration(-left)} ago; ${renewal}`;
  const secrets = usable
    ? `held by ${storeLabel(store)}`
    : `${s.red('gone')}: ${storeLabel(store)} no longer holds them${profile.secret_store === 'agent' ? ' (it forgets when it stops or sits idle)' : ''}; run tether login`;
  const rows = [
    `${s.bold(profile.issuer)}${current ? s.dim('  (current)') : ''}`,
    `  Signed in as   ${profile.subject}`,
    `  Client         ${profile.client_id}`,
    `  Resource       ${profile.resource}`,
    `  Scopes         ${profile.scopes.join(' ') || '(none)'}`,
    `  Access token   ${access}`,
    ...(server ? [`  At the server  ${serverLine(server, s, deps.now())}`] : []),
    `  DPoP key       P-256, thumbprint ${profile.key_thumbprint} (never leaves this machine)`,
    `  Secrets        ${secrets}`,
    `  Signed in      ${new Date(profile.signed_in_at * 1000).toISOString()}`,
  ];
  deps.io.stdout.write(`${rows.join('\n')}\n`);
  if (!usable) return 'unusable';
  return server?.state === 'revoked' ? 'revoked' : server?.state === 'ended' ? 'unusable' : 'usable';
}

function serverLine(view: ServerView, s: ReturnType<typeof styles>, now: number): string {
  switch (view.state) {
    case 'active':
      return `active; the session lasts ${formatDuration(view.grantExpiresAt - now)} more at most`;
    case 'revoked':
      return `${s.red('REVOKED')} by the server (an admin, a sign-out elsewhere, or a reused refresh token); run tether login`;
    case 'ended':
      return `${s.red('ended')} (expired or idle too long); run tether login`;
    case 'unreachable':
      return `not asked: ${view.reason}; the rest is what this machine knows`;
    case 'unknown':
      return 'not asked: the server has no session endpoint; the rest is what this machine knows';
  }
}
