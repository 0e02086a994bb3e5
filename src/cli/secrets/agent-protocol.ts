import type { JWK } from 'jose';
import type { ProofClaims, StatementClaims } from '../auth/dpop-key.js';
import type { SessionTokens } from '../auth/token-response.js';

/**
 * The agent's wire protocol: one JSON object per line, one request and one answer per connection, over a Unix
 * socket only its owner can open. It offers what ssh-agent offers for SSH keys: make a key, sign with it, hold
 * a session's tokens, forget.
 */
export type AgentRequest =
  | { op: 'hello' }
  | { op: 'generate-key'; account: string }
  | { op: 'public-key'; account: string }
  | { op: 'sign'; account: string; claims: ProofClaims }
  | { op: 'attest'; account: string; claims: StatementClaims }
  | { op: 'read'; account: string }
  | { op: 'write'; account: string; tokens: SessionTokens }
  | { op: 'forget'; account: string }
  | { op: 'stop' };

export type AgentReply =
  | { ok: true; pid?: number; version?: number; jwk?: JWK | null; proof?: string; tokens?: SessionTokens | null }
  | { ok: false; error: string };

export const AGENT_PROTOCOL_VERSION = 1;
/** Requests are small; anything bigger is not ours. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** Validates a request at the socket boundary; returns a description of what is wrong, or the typed request. */
export function parseAgentRequest(value: unknown): AgentRequest | string {
  if (!value || typeof value !== 'object') return 'request must be an object';
  const r = value as Record<string, unknown>;
  const account = typeof r['account'] === 'string' && r['account'].length > 0 && r['account'].length <= 512 ? r['account'] : undefined;
  switch (r['op']) {
    case 'hello':
    case 'stop':
      return { op: r['op'] };
    case 'generate-key':
    case 'public-key':
    case 'read':
    case 'forget':
      return account ? { op: r['op'], account } : 'account is required';
    case 'sign': {
      if (!account) return 'account is required';
      const claims = r['claims'] as Record<string, unknown> | undefined;
      if (!claims || typeof claims !== 'object') return 'claims are required';
      const { htm, htu, ath, nonce } = claims;
      if (typeof htm !== 'string' || !/^[A-Za-z]{1,16}$/.test(htm)) return 'claims.htm must be an HTTP method';
      if (typeof htu !== 'string' || !/^https?:\/\//.test(htu) || htu.length > 4096) return 'claims.htu must be an http(s) URL';
      if (ath !== undefined && (typeof ath !== 'string' || ath.length > 128)) return 'claims.ath must be a string';
      if (nonce !== undefined && (typeof nonce !== 'string' || nonce.length > 1024)) return 'claims.nonce must be a string';
      return {
        op: 'sign',
        account,
        claims: { htm, htu, ...(ath !== undefined ? { ath } : {}), ...(nonce !== undefined ? { nonce } : {}) },
      };
    }
    case 'attest': {
      // A device statement: the agent fills in iss, times and jti itself; the caller names only aud and cnf.jkt.
      if (!account) return 'account is required';
      const claims = r['claims'] as Record<string, unknown> | undefined;
      if (!claims || typeof claims !== 'object') return 'claims are required';
      const { aud, cnfJkt } = claims;
      if (typeof aud !== 'string' || !/^https?:\/\//.test(aud) || aud.length > 4096) return 'claims.aud must be an http(s) URL';
      if (typeof cnfJkt !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(cnfJkt)) return 'claims.cnfJkt must be a key thumbprint';
      return { op: 'attest', account, claims: { aud, cnfJkt } };
    }
    case 'write': {
      if (!account) return 'account is required';
      const tokens = parseSessionTokens(r['tokens']);
      return tokens ? { op: 'write', account, tokens } : 'tokens must be { accessToken, accessTokenExpiresAt, refreshToken? }';
    }
    default:
      return 'unknown op';
  }
}

export function parseSessionTokens(value: unknown): SessionTokens | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const t = value as Record<string, unknown>;
  if (typeof t['accessToken'] !== 'string' || typeof t['accessTokenExpiresAt'] !== 'number') return undefined;
  if (t['refreshToken'] !== undefined && typeof t['refreshToken'] !== 'string') return undefined;
  return {
    accessToken: t['accessToken'],
    accessTokenExpiresAt: t['accessTokenExpiresAt'],
    ...(typeof t['refreshToken'] === 'string' ? { refreshToken: t['refreshToken'] } : {}),
  };
}
