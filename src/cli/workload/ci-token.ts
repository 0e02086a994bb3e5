import { readFileSync } from 'node:fs';
import { ClientError } from '../auth/errors.js';

/** Where the CI platform's own OIDC token comes from. */
export interface CiTokenOptions {
  /** The `aud` to ask for (GitHub Actions mints per request); the server's configured audience for the issuer. */
  audience?: string;
  /** A file holding the token (a Kubernetes projected service-account token). */
  tokenFile?: string;
  /** An environment variable holding the token (GitLab's `id_tokens:` variable). */
  tokenEnv?: string;
}

/** The platform a token came from, for messages. */
export type CiPlatform = 'github-actions' | 'env' | 'file';

/**
 * Reads the CI platform's own OIDC token, in this order:
 *
 * - `--token-file PATH` (or `TETHER_TOKEN_FILE`): Kubernetes projected service-account tokens (read each time:
 *   the kubelet rotates the file);
 * - `--token-env NAME` (or `TETHER_ID_TOKEN`): GitLab CI's `id_tokens:` variable;
 * - GitHub Actions: `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN` (the job needs
 *   `permissions: id-token: write`), asked for `audience`.
 *
 * Nothing is written anywhere: the token lives in this process's memory only as long as one exchange.
 *
 * @see https://docs.github.com/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect
 * @see https://docs.gitlab.com/ci/secrets/id_token_authentication/
 */
export async function ciToken(env: NodeJS.ProcessEnv, opts: CiTokenOptions, fetchFn: typeof fetch): Promise<{ token: string; platform: CiPlatform }> {
  const file = opts.tokenFile ?? env['TETHER_TOKEN_FILE'];
  if (file) {
    try {
      return { token: readFileSync(file, 'utf8').trim(), platform: 'file' };
    } catch (error) {
      throw new ClientError('invalid_response', `cannot read the token file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  const variable = opts.tokenEnv ?? (env['TETHER_ID_TOKEN'] ? 'TETHER_ID_TOKEN' : undefined);
  if (variable) {
    const token = env[variable];
    if (!token) throw new ClientError('invalid_response', `${variable} is empty: declare it under id_tokens: in .gitlab-ci.yml`);
    return { token: token.trim(), platform: 'env' };
  }
  const url = env['ACTIONS_ID_TOKEN_REQUEST_URL'];
  const bearer = env['ACTIONS_ID_TOKEN_REQUEST_TOKEN'];
  if (url && bearer) {
    const request = new URL(url);
    if (opts.audience) request.searchParams.set('audience', opts.audience);
    let response: Response;
    try {
      response = await fetchFn(request, { headers: { authorization: `bearer ${bearer}`, accept: 'application/json' }, signal: AbortSignal.timeout(15_000) });
    } catch {
      throw new ClientError('network', 'cannot reach the GitHub Actions token service');
    }
    const body = (await response.json().catch(() => ({}))) as { value?: unknown };
    if (!response.ok || typeof body.value !== 'string') throw new ClientError('invalid_response', `the GitHub Actions token service answered HTTP ${response.status}`);
    return { token: body.value, platform: 'github-actions' };
  }
  throw new ClientError(
    'not_signed_in',
    'no CI token found: on GitHub Actions grant id-token: write; on GitLab set TETHER_ID_TOKEN via id_tokens:; on Kubernetes pass --token-file',
  );
}
