import { decodeJwt } from 'jose';
import { ClientError } from './errors.js';

/** Secrets of a session, as held by a secret store. Never written to a file, an argument or the environment. */
export interface SessionTokens {
  accessToken: string;
  /** Seconds since the epoch, computed from expires_in when the token arrived. */
  accessTokenExpiresAt: number;
  refreshToken?: string;
}

/** A successful token response, checked, plus what we may show about it. */
export interface TokenSet extends SessionTokens {
  scopes: string[];
}

/**
 * Checks a token response (RFC 6749 §5.1). The token must be DPoP-bound: we asked with a proof, so a Bearer token
 * would be a downgrade that anyone who copies it could use.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-5
 */
export function processTokenResponse(body: Record<string, unknown>, now: number): TokenSet {
  const { access_token, token_type, expires_in, refresh_token, scope } = body;
  if (typeof access_token !== 'string' || access_token.length === 0) {
    throw new ClientError('invalid_response', 'the token response has no access_token');
  }
  if (typeof token_type !== 'string' || token_type.toLowerCase() !== 'dpop') {
    throw new ClientError('invalid_response', 'the server issued a token that is not bound to this machine\'s key (token_type is not DPoP)');
  }
  // Without expires_in we cannot know; a minute is short enough that a wrong guess only costs a refresh.
  const lifetime = typeof expires_in === 'number' && expires_in > 0 ? expires_in : 60;
  return {
    accessToken: access_token,
    accessTokenExpiresAt: now + lifetime,
    ...(typeof refresh_token === 'string' && refresh_token.length > 0 ? { refreshToken: refresh_token } : {}),
    scopes: typeof scope === 'string' ? scope.split(' ').filter((s) => s.length > 0) : [],
  };
}

/** What the access token says about itself, for display. Not verified: it is our own token, read for its labels. */
export interface TokenLabels {
  subject?: string;
  audience?: string;
  scopes?: string[];
  keyThumbprint?: string;
  /** The device's trust as the server stamped it (`device_class`). */
  deviceClass?: string;
}

export function readTokenLabels(accessToken: string): TokenLabels {
  try {
    const claims = decodeJwt(accessToken);
    const aud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
    const cnf = claims['cnf'] as { jkt?: unknown } | undefined;
    return {
      ...(typeof claims.sub === 'string' ? { subject: claims.sub } : {}),
      ...(typeof aud === 'string' ? { audience: aud } : {}),
      ...(typeof claims['scope'] === 'string' ? { scopes: claims['scope'].split(' ').filter(Boolean) } : {}),
      ...(typeof cnf?.jkt === 'string' ? { keyThumbprint: cnf.jkt } : {}),
      ...(typeof claims['device_class'] === 'string' ? { deviceClass: claims['device_class'] } : {}),
    };
  } catch {
    // Opaque tokens are allowed by OAuth; we then only lack labels.
    return {};
  }
}
