import type { ClientKey } from '../auth/dpop-key.js';
import { ClientError } from '../auth/errors.js';
import { dpopFormPost, oauthErrorOf, type NonceCache } from '../auth/oauth-http.js';
import { ciToken, type CiTokenOptions } from './ci-token.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

/** Exchange again this long before the workload token expires. */
const MARGIN_SECONDS = 30;

/**
 * Access tokens for a workload in CI: the platform's OIDC token is exchanged (RFC 8693) at the token endpoint with
 * a DPoP proof by an in-memory key that never leaves this process, and the result kept in memory until shortly
 * before it expires. Shaped like the session's TokenSource, so the same proxy and sender use it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1
 */
export class WorkloadTokenSource {
  private cached: { token: string; expiresAt: number } | undefined;

  constructor(
    private readonly options: {
      tokenEndpoint: string;
      workload: string;
      resource: string;
      key: ClientKey;
      fetch: typeof fetch;
      nonces: NonceCache;
      env: NodeJS.ProcessEnv;
      ci: CiTokenOptions;
      now: () => number;
      scope?: string;
    },
  ) {}

  /** When the token last obtained expires (epoch seconds), for messages; undefined before the first exchange. */
  get expiresAt(): number | undefined {
    return this.cached?.expiresAt;
  }

  async accessToken(): Promise<string> {
    const now = this.options.now();
    if (this.cached && this.cached.expiresAt - MARGIN_SECONDS > now) return this.cached.token;
    return this.exchange();
  }

  async afterRejection(rejected: string): Promise<string | undefined> {
    this.cached = undefined;
    const next = await this.exchange();
    return next === rejected ? undefined : next;
  }

  private async exchange(): Promise<string> {
    const o = this.options;
    const { token } = await ciToken(o.env, o.ci, o.fetch);
    const form = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE,
      subject_token: token,
      subject_token_type: JWT_TYPE,
      resource: o.resource,
      tether_workload: o.workload,
    });
    if (o.scope) form.set('scope', o.scope);
    const reply = await dpopFormPost({ fetch: o.fetch, key: o.key, nonces: o.nonces }, o.tokenEndpoint, form);
    if (reply.status !== 200) throw oauthErrorOf(reply, `exchanging the CI token for workload ${o.workload}`);
    const access = reply.body['access_token'];
    const expiresIn = reply.body['expires_in'];
    if (typeof access !== 'string' || typeof expiresIn !== 'number') throw new ClientError('invalid_response', 'the token endpoint answered without a token');
    this.cached = { token: access, expiresAt: o.now() + expiresIn };
    return access;
  }
}
