import { randomBytes } from 'node:crypto';
import { defineCommand, urlOption, UsageError } from '../command.js';
import { abandonRequest } from '../auth/abandon.js';
import { deviceKeyIn } from '../auth/device-key.js';
import { deviceAuthorizationRequest, pollDeviceAuthorization, type DeviceAuthorization } from '../auth/device-flow.js';
import { discover, type ServerMetadata } from '../auth/discovery.js';
import { ClientError, isClientError } from '../auth/errors.js';
import { revocationRequest } from '../auth/revocation.js';
import { readTokenLabels } from '../auth/token-response.js';
import { detectRunContext, type RunContext } from '../context/attended.js';
import type { Profile } from '../config/profiles.js';
import { ExitCode } from '../io.js';
import { storeLabel, type SecretStore } from '../secrets/secret-store.js';
import { formatDuration, styles } from '../ui/format.js';
import { listenForKeys } from '../ui/keypress.js';
import { renderQr } from '../ui/qr.js';
import { Spinner } from '../ui/spinner.js';
import { profileFile, type ClientDeps } from './client-deps.js';
import { reportFailure } from './session.js';
import { openWorkloadSession } from '../workload/workload-exec.js';

/** The public client every Tether server registers for this CLI. */
export const CLIENT_ID = 'tether-cli';
/** How long the server may stay silent while we wait before the spinner says so. */
export const UNREACHABLE_AFTER_SECONDS = 10;

/** Where `tether serve --dev` listens: the issuer when nothing else names one. */
export const DEFAULT_ISSUER = 'http://127.0.0.1:8080';

const USAGE = `Usage: tether login [--issuer URL] [--scope SCOPE]... [--resource URL]

Signs in with the device flow (RFC 8628): shows a one-time code, a link and a QR code, and waits while you
approve in a browser. Each login makes a new P-256 DPoP key that never leaves this machine; the tokens are bound
to it, and the machine's device key (tether device) vouches for it. Secrets go to the OS keychain, or to the in-memory tether agent when no keychain answers.

  --issuer URL     the Tether server (default: $TETHER_ISSUER, then your current session's, then ${DEFAULT_ISSUER})
  --scope SCOPE    scopes to ask for, space-separated or repeated (default: all the client may have)
  --resource URL   the API the tokens are for (default: the client's default)

In CI: tether login --workload NAME --issuer URL --resource URL [--audience AUD] [--token-file PATH | --token-env NAME]
  (or TETHER_WORKLOAD=NAME) never starts a device login: it exchanges the CI platform's OIDC token for a token of
  workload NAME, with a DPoP key kept only in memory, to check the workload works here, and writes nothing. Run
  commands with tether exec --workload NAME -- CMD. --workload is refused at a person's terminal.

Environment: TETHER_SECRET_STORE=agent|keyring forces a secret store. Exit codes: docs/cli.md.`;

/** `tether login`: the device flow, as smooth as `gh auth login`, ending in secrets kept off disk. */
export const loginCommand = defineCommand({
  name: 'login',
  summary: 'sign in with the device flow (code, link, QR); secrets go to the keychain or the agent',
  usage: USAGE,
  options: {
    issuer: { type: 'string' },
    scope: { type: 'string', multiple: true },
    resource: { type: 'string' },
    // In CI, the workload to act as instead of a person (docs/workloads.md).
    workload: { type: 'string' },
    audience: { type: 'string' },
    'token-file': { type: 'string' },
    'token-env': { type: 'string' },
  },
  run: async ({ values }, deps: ClientDeps) => {
    const { io } = deps;
    const scope = values.scope?.join(' ').split(/\s+/).filter(Boolean).join(' ') || undefined;
    const given = values.issuer ?? io.env['TETHER_ISSUER'];
    const named = given === undefined ? undefined : urlOption(values.issuer === undefined ? 'TETHER_ISSUER' : '--issuer', given);
    const context = detectRunContext(io.env, deps.tty);
    // TETHER_WORKLOAD only counts unattended: a variable left in a person's shell must not turn their login into
    // a workload's. The flag at a person's terminal is a mistake worth saying so.
    const workload = values.workload ?? (context.attended ? undefined : io.env['TETHER_WORKLOAD'] || undefined);
    const workloadOnly = (['audience', 'token-file', 'token-env'] as const).find((k) => values[k] !== undefined);
    if (workloadOnly && workload === undefined) throw new UsageError(`--${workloadOnly} goes with --workload NAME`);
    if (workload !== undefined) {
      if (context.attended) throw new UsageError('--workload is for CI: at your own terminal, sign in as yourself with tether login');
      return workloadLogin(deps, context, { ...values, workload, issuer: named, scope });
    }
    try {
      const issuer = named ?? profileFile(deps).select()?.issuer ?? DEFAULT_ISSUER;
      const metadata = await discover(deps.fetch, issuer);
      // Unattended, the device declares itself automation and the server's policy decides: the default pack
      // refuses it before any code exists; a server that allows it lets the login go on, plainly, for the log.
      return await runLogin(deps, metadata, context, {
        scope,
        resource: values.resource,
        environment: context.attended ? undefined : 'automation',
      });
    } catch (error) {
      return reportFailure(io, 'login', error);
    }
  },
});

/**
 * `tether login --workload NAME` in CI: the federated exchange (RFC 8693) instead of a device login, so a person's
 * login never happens here. The token and its DPoP key live in this process's memory only, and go with it: nothing
 * is saved, and no profile or secret store is touched. It proves the workload works here and says how to use it.
 */
async function workloadLogin(
  deps: ClientDeps,
  context: RunContext,
  options: { workload: string; issuer: string | undefined; resource?: string | undefined; scope: string | undefined; audience?: string | undefined; 'token-file'?: string | undefined; 'token-env'?: string | undefined },
): Promise<number> {
  const { io } = deps;
  try {
    const session = await openWorkloadSession(options, deps);
    const token = await session.tokens.accessToken();
    const labels = readTokenLabels(token);
    const expiresAt = session.tokens.expiresAt;
    io.stderr.write(
      [
        `Workload ${options.workload} can sign in here (${context.ci ?? 'unattended'}): no device login, no person's token.`,
        `  Identity  ${labels.subject ?? '(unknown)'} at ${session.resource}, scopes ${labels.scopes?.join(' ') || '(none)'}`,
        `  Token     DPoP-bound to a key made in memory for this run${expiresAt !== undefined ? `, until ${new Date(expiresAt * 1000).toISOString()}` : ''}`,
        '  Saved     nothing: the key and token are gone when this command exits',
        `  Next      tether exec --workload ${options.workload} --issuer URL --resource URL -- CMD  (each run exchanges anew)`,
        '',
      ].join('\n'),
    );
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    return reportFailure(io, 'login', error);
  }
}

function refuseUnattended(deps: ClientDeps, metadata: ServerMetadata, context: RunContext, why: string): number {
  const lines = [
    'tether login: refusing to start a device login: nobody seems to be at the keyboard.',
    ...context.reasons.map((r) => `  - ${r}`),
    '',
    'A device code printed where no person is watching can be approved by whoever reads the log, and nobody here',
    'is meant to approve it. Instead:',
    '  - in CI, act as a workload, never as a person: tether login --workload NAME (or TETHER_WORKLOAD=NAME) checks',
    '    it, and tether exec --workload NAME -- CMD runs the job with its tokens (docs/workloads.md);',
    '  - sign in on your own machine (tether login in a terminal) and run the job there with tether exec;',
    '  - give automation its own identity: a confidential client (client secret or private_key_jwt) on the server;',
    '  - if you are here but without a terminal (ssh host tether login), run it with one: ssh -t.',
    '',
    `${metadata.issuer}'s policy refused a device login from an unattended (automation) environment:`,
    `  ${why}`,
  ];
  deps.io.stderr.write(`${lines.join('\n')}\n`);
  return ExitCode.refused;
}

async function runLogin(
  deps: ClientDeps,
  metadata: ServerMetadata,
  context: RunContext,
  request: { scope: string | undefined; resource: string | undefined; environment: string | undefined },
): Promise<number> {
  const { io } = deps;
  const out = io.stderr;
  const s = styles(deps.tty.stderr);
  const { store, note } = await deps.secrets.choose();
  // A fresh name per login: a half-finished login can never touch the secrets of the session it would replace.
  const account = `${metadata.issuer}#${randomBytes(8).toString('hex')}`;
  const key = await store.createKey(account);
  // The machine's device key vouches for this login's fresh key, so the server judges the machine, not the login.
  const device = await deviceKeyIn(store);
  const http = { fetch: deps.fetch, key, nonces: deps.nonces };
  let saved = false;
  const abort = new AbortController();
  const untrap = deps.onInterrupt(() => abort.abort());
  const spinner = new Spinner(out, deps.tty.stderr);
  let keys: { stop(): void } | undefined;
  let authorization: DeviceAuthorization | undefined;
  try {
    try {
      const deviceAttestation = await device.key.attest({ aud: metadata.issuer, cnfJkt: key.jkt });
      authorization = await deviceAuthorizationRequest(http, metadata, { clientId: CLIENT_ID, ...request, deviceAttestation });
    } catch (error) {
      if (!context.attended && isClientError(error, 'oauth_error') && error.oauthError === 'unauthorized_client') {
        return refuseUnattended(deps, metadata, context, error.message);
      }
      if (isClientError(error, 'oauth_error') && error.oauthError === 'unauthorized_client' && /device/i.test(error.message)) {
        // Most likely this machine is not trusted (yet): say which key the server judged and how to change that.
        io.stderr.write(
          `tether login: ${error.message}\n  This machine's device key is ${device.key.jkt} (${device.created ? 'made just now' : 'held in ' + storeLabel(device.store)}).\n` +
            '  See its trust with tether device status; ask for it with tether device enroll, then have an administrator approve it.\n',
        );
        return ExitCode.unauthorized;
      }
      throw error;
    }
    if (!context.attended) {
      io.stderr.write(`Nobody seems to be at the keyboard (${context.reasons.join('; ')}), but ${metadata.issuer}'s policy allows unattended device logins.\n`);
    }
    showCode(deps, authorization, context);
    const openUrl = authorization.verificationUriComplete ?? authorization.verificationUri;
    if (context.interactive) {
      let opened = false;
      keys = listenForKeys(io.stdin, (pressed) => {
        if (pressed === 'interrupt') abort.abort();
        else if (!opened) {
          opened = true;
          deps.browser.open(openUrl).then(
            () => spinner.log(`  Opened ${openUrl} in your browser.`),
            () => spinner.log(`  ${s.warn} Could not open a browser; open ${openUrl} yourself.`),
          );
        }
      });
    }
    const deadline = deps.now() + authorization.expiresIn;
    // When the server stops answering, say so: a spinner that keeps turning looks like waiting for the person.
    let silentSince: number | undefined;
    let warned = false;
    const silence = () => (silentSince === undefined ? 0 : deps.now() - silentSince);
    spinner.start(() =>
      silence() > UNREACHABLE_AFTER_SECONDS
        ? `${s.warn} ${metadata.issuer} has not answered for ${formatDuration(silence())}; still trying… (Ctrl-C to give up)`
        : `Waiting for approval… the code expires in ${formatDuration(deadline - deps.now())}`,
    );
    if (!deps.tty.stderr) out.write(`Waiting for approval (the code expires in ${formatDuration(authorization.expiresIn)})…\n`);
    const tokens = await pollDeviceAuthorization(http, metadata, authorization, {
      clientId: CLIENT_ID,
      now: deps.now,
      sleep: deps.sleep,
      signal: abort.signal,
      onWait: ({ slowedDown, intervalSeconds }) => {
        if (slowedDown) spinner.log(`  The server asked to slow down; polling every ${intervalSeconds}s.`);
      },
      onContact: ({ answered, silentSince: since }) => {
        silentSince = since;
        if (!answered && !warned && silence() > UNREACHABLE_AFTER_SECONDS) {
          warned = true;
          spinner.log(`  ${s.warn} Cannot reach ${metadata.issuer} for ${formatDuration(silence())}; still trying until the code expires.`);
        } else if (answered && warned) {
          warned = false;
          spinner.log(`  Reached ${metadata.issuer} again.`);
        }
      },
    });
    keys?.stop();
    keys = undefined;

    const labels = readTokenLabels(tokens.accessToken);
    if (labels.keyThumbprint !== undefined && labels.keyThumbprint !== key.jkt) {
      throw new ClientError('invalid_response', 'the server bound the token to a different key than this login\'s');
    }
    await store.writeTokens(account, {
      accessToken: tokens.accessToken,
      accessTokenExpiresAt: tokens.accessTokenExpiresAt,
      ...(tokens.refreshToken ? { refreshToken: tokens.refreshToken } : {}),
    });
    const profile: Profile = {
      issuer: metadata.issuer,
      client_id: CLIENT_ID,
      resource: labels.audience ?? request.resource ?? metadata.issuer,
      scopes: tokens.scopes.length > 0 ? tokens.scopes : (labels.scopes ?? []),
      subject: labels.subject ?? '(unknown)',
      account,
      secret_store: store.kind,
      key_thumbprint: key.jkt,
      access_token_expires_at: tokens.accessTokenExpiresAt,
      signed_in_at: deps.now(),
      token_endpoint: metadata.token_endpoint,
      ...(metadata.revocation_endpoint ? { revocation_endpoint: metadata.revocation_endpoint } : {}),
      ...(metadata.tether_session_endpoint ? { session_endpoint: metadata.tether_session_endpoint } : {}),
    };
    const previous = profileFile(deps).save(profile);
    saved = true;
    spinner.stop(`${s.ok} Signed in to ${s.bold(metadata.issuer)} as ${s.bold(profile.subject)}.`);
    if (previous) await retire(deps, previous);
    out.write(
      [
        `  Resource  ${profile.resource}`,
        `  Scopes    ${profile.scopes.join(' ') || '(none)'}`,
        '  Key       a new P-256 DPoP key for this login; it never leaves this machine',
        `            thumbprint ${key.jkt}`,
        `  Device    ${labels.deviceClass ?? 'unknown'}, vouched for by this machine's device key ${device.key.jkt}`,
        ...(store.kind === 'agent'
          ? [
              '  Secrets   in the memory of the tether agent only; nothing secret is on disk',
              '            it forgets them when it stops or sits unused',
              ...(note ? [`            ${clip(note, 88)}`] : []),
              ...(store.location ? [`            agent socket ${store.location}`] : []),
            ]
          : [`  Secrets   in ${store.description}; nothing secret is on disk`]),
        '  Next      tether exec -- CMD  ·  tether request GET URL  ·  tether status',
        '',
      ].join('\n'),
    );
    return ExitCode.ok;
  } catch (error) {
    keys?.stop();
    if (isClientError(error, 'access_denied')) {
      spinner.stop(`${s.fail} The request was denied in the browser. Nothing was saved.`);
      return ExitCode.denied;
    }
    if (isClientError(error, 'expired_token')) {
      spinner.stop(`${s.fail} The code expired before it was approved. Run tether login to get a new one.`);
      return ExitCode.expired;
    }
    if (isClientError(error, 'interrupted') || abort.signal.aborted) {
      // Withdraw the code, or it could still be approved in a browser and leave a grant nobody holds.
      const endpoint = metadata.tether_device_abandon_endpoint;
      const withdrawn = authorization && endpoint ? await abandonRequest(http, endpoint, { clientId: CLIENT_ID, deviceCode: authorization.deviceCode }) : false;
      spinner.stop(
        withdrawn
          ? 'Login cancelled; the code was withdrawn at the server, so it can no longer be approved. Nothing was saved.'
          : `Login cancelled. Nothing was saved.${authorization ? ` ${s.warn} The server could not be told: the code stays approvable until it expires.` : ''}`,
      );
      return ExitCode.interrupted;
    }
    spinner.stop();
    throw error;
  } finally {
    untrap();
    if (!saved) await forgetQuietly(store, account);
  }
}

/** Prints the code (the user code is meant to be read, unlike the device code), the link and the QR code. */
function showCode(deps: ClientDeps, authorization: DeviceAuthorization, context: RunContext): void {
  const out = deps.io.stderr;
  const s = styles(deps.tty.stderr);
  const lines = [
    `${s.warn} First copy your one-time code: ${s.bold(authorization.userCode)}`,
    `  Then open ${s.bold(authorization.verificationUri)} in a browser and enter it.`,
  ];
  const complete = authorization.verificationUriComplete;
  const columns = (out as { columns?: number }).columns ?? 80;
  if (complete && deps.tty.stderr) {
    const qr = renderQr(complete);
    if (qr.width + 2 <= columns) {
      lines.push('  Or scan this code with your phone; it opens the page with the code filled in:', '');
      lines.push(...qr.lines.map((line) => `  ${line}`), '');
    }
  } else if (complete) {
    lines.push(`  Or open ${complete}, which has the code filled in.`);
  }
  if (context.interactive) lines.push(`  Press ${s.bold('Enter')} to open the page in your browser, Ctrl-C to cancel.`);
  out.write(`${lines.join('\n')}\n`);
}

/** The session this login replaces: revoked at the server (best effort) and wiped locally. */
async function retire(deps: ClientDeps, previous: Profile): Promise<void> {
  const store = await deps.secrets.open(previous.secret_store).catch(() => undefined);
  if (!store) return;
  const tokens = await store.readTokens(previous.account).catch(() => undefined);
  const token = tokens?.refreshToken ?? tokens?.accessToken;
  if (token && previous.revocation_endpoint) {
    await revocationRequest(deps.fetch, previous.revocation_endpoint, {
      clientId: previous.client_id,
      token,
      hint: tokens?.refreshToken ? 'refresh_token' : 'access_token',
    }).catch(() => undefined);
  }
  await forgetQuietly(store, previous.account);
}

async function forgetQuietly(store: SecretStore, account: string): Promise<void> {
  await store.forget(account).catch(() => undefined);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
