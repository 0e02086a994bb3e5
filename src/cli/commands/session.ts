import type { ClientKey } from '../auth/dpop-key.js';
import { ClientError, isClientError } from '../auth/errors.js';
import { TokenSource } from '../auth/token-source.js';
import { ConfigFileError, type Profile, type ProfileSelector } from '../config/profiles.js';
import { UnsafeDirectoryError } from '../config/paths.js';
import { ExitCode, type CliIO } from '../io.js';
import { SecretStoreError, storeLabel, type SecretStore } from '../secrets/secret-store.js';
import { profileFile, type ClientDeps } from './client-deps.js';

/** A saved session, opened: its metadata, the store that holds its secrets, its key and a token source. */
export interface OpenSession {
  profile: Profile;
  store: SecretStore;
  key: ClientKey;
  tokens: TokenSource;
}

/**
 * Opens the session a command means. Fails with `not_signed_in` when there is none, and `session_ended` when its
 * store no longer holds the key (the agent stopped, or the keychain entry was removed).
 */
export async function openSession(deps: ClientDeps, selector: ProfileSelector): Promise<OpenSession> {
  const file = profileFile(deps);
  const profile = file.select(selector);
  if (!profile) {
    const which = selector.resource ? ` for ${selector.resource}` : selector.issuer ? ` at ${selector.issuer}` : '';
    const flags = `${selector.issuer ? ` --issuer ${selector.issuer}` : ''}${selector.resource ? ` --resource ${selector.resource}` : ''}`;
    throw new ClientError('not_signed_in', `not signed in${which}; run tether login${flags}`);
  }
  const store = await deps.secrets.open(profile.secret_store);
  const key = await store.loadKey(profile.account).catch((error: unknown) => {
    if (error instanceof SecretStoreError && error.code === 'unavailable') return undefined;
    throw error;
  });
  if (!key || key.jkt !== profile.key_thumbprint) {
    throw new ClientError('session_ended', `${storeLabel(store)} no longer holds the secrets of your session at ${profile.issuer}; run tether login`);
  }
  const tokens = new TokenSource({
    account: profile.account,
    clientId: profile.client_id,
    tokenEndpoint: profile.token_endpoint,
    store,
    key,
    lock: deps.lock,
    fetch: deps.fetch,
    nonces: deps.nonces,
    now: deps.now,
    onRefreshed: (next) => file.update(profile.account, { access_token_expires_at: next.accessTokenExpiresAt }),
  });
  return { profile, store, key, tokens };
}

/**
 * Turns a failure into a message and a documented exit code (docs/cli.md). Messages come from our own errors and
 * never carry a secret.
 */
export function reportFailure(io: CliIO, command: string, error: unknown): number {
  const say = (message: string) => io.stderr.write(`tether ${command}: ${message}\n`);
  if (isClientError(error)) {
    say(error.message);
    switch (error.code) {
      case 'network':
        return ExitCode.network;
      case 'oauth_error':
        return ExitCode.unauthorized;
      case 'access_denied':
        return ExitCode.denied;
      case 'expired_token':
        return ExitCode.expired;
      case 'not_signed_in':
      case 'session_ended':
        return ExitCode.notSignedIn;
      case 'session_revoked':
        return ExitCode.revoked;
      case 'interrupted':
        return ExitCode.interrupted;
      case 'invalid_response':
        return ExitCode.failure;
    }
  }
  if (error instanceof SecretStoreError || error instanceof UnsafeDirectoryError) {
    say(error.message);
    return ExitCode.secretStore;
  }
  if (error instanceof ConfigFileError) {
    say(error.message);
    return ExitCode.config;
  }
  say((error as Error).message ?? String(error));
  return ExitCode.failure;
}
