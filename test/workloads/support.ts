import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type KeyObject } from 'jose';
import type { DpopKey } from '../support/dpop.js';
import { postForm } from '../support/http.js';
import type { TestServer } from '../support/in-process.js';
import { ath } from '../support/tokens.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** What the stand-in CI issuer's tokens say `aud` is, and what Tether is configured to expect. */
export const CI_AUDIENCE = 'https://tether.test';

export interface CiIssuer {
  issuer: string;
  /** How many times its JWKS was fetched. */
  jwksFetches: number;
  /** A token as GitHub Actions would issue one for a job of `repository` on `ref`. */
  token(claims?: JWTPayload, opts?: { ttl?: number; iat?: number; aud?: string }): Promise<string>;
  close(): Promise<void>;
}

/**
 * A stand-in CI platform's OIDC issuer, started by the test: real HTTP, its own
 * /.well-known/openid-configuration and JWKS, RS256 signatures (as GitHub Actions, GitLab and Kubernetes use).
 */
export async function startCiIssuer(): Promise<CiIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'ci-key-1', alg: 'RS256', use: 'sig' };
  let issuer = '';
  const state = { jwksFetches: 0 };
  const server: Server = createServer((request, response) => {
    if (request.url === '/.well-known/openid-configuration') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ['RS256'] }));
    } else if (request.url === '/jwks') {
      state.jwksFetches++;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ keys: [jwk] }));
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    get jwksFetches() {
      return state.jwksFetches;
    },
    token: (claims = {}, opts = {}) => {
      const iat = opts.iat ?? Math.floor(Date.now() / 1000);
      return new SignJWT({
        repository: 'acme/app',
        ref: 'refs/heads/main',
        sub: 'repo:acme/app:ref:refs/heads/main',
        ...claims,
      })
        .setProtectedHeader({ alg: 'RS256', kid: 'ci-key-1', typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(opts.aud ?? CI_AUDIENCE)
        .setIssuedAt(iat)
        .setNotBefore(iat)
        .setExpirationTime(iat + (opts.ttl ?? 300))
        .setJti(randomUUID())
        .sign(privateKey as KeyObject);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Calls the workload API as the person holding `token` and `key` (token + DPoP proof with ath). */
export async function workloadApi(
  server: TestServer,
  method: string,
  path: string,
  auth: { token: string; key: DpopKey | null; scheme?: string },
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = `${server.issuer}${path}`;
  const headers: Record<string, string> = { authorization: `${auth.scheme ?? 'DPoP'} ${auth.token}` };
  if (auth.key) headers['dpop'] = await auth.key.proof(method, url, { ath: await ath(auth.token) });
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** A federated workload's creation body, trusting `issuer` for acme/app on main, reading the test API. */
export function federatedWorkload(server: TestServer, issuer: string, extra: Record<string, unknown> = {}) {
  return {
    name: 'deploy-app',
    purpose: 'deploys acme/app from main',
    resources: [server.api],
    scopes: ['read'],
    expires_in: 30 * 86400,
    federated: { issuer, subject: 'repo:acme/app:ref:refs/heads/main', claims: { repository: 'acme/app', ref: 'refs/heads/main' } },
    ...extra,
  };
}

/** RFC 8693 exchange of an external JWT, with a proof by `key` (dated `proofIat` when given). */
export async function exchange(
  server: TestServer,
  subjectToken: string,
  key: DpopKey | null,
  extra: Record<string, string> = {},
  proofIat?: number,
) {
  const url = `${server.issuer}/token`;
  const headers: Record<string, string> = key ? { DPoP: await key.proof('POST', url, proofIat !== undefined ? { iat: proofIat } : {}) } : {};
  return postForm(url, { grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: JWT_TYPE, ...extra }, headers);
}

/** A key pair made "where the workload runs": only `publicJwk` is ever sent to Tether. */
export async function workloadKey(alg = 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk: JWK = await exportJWK(publicKey);
  const privateJwk: JWK = await exportJWK(privateKey);
  return {
    publicJwk,
    privateJwk,
    /** An RFC 7523 assertion for workload `id`, audience the token endpoint. */
    assertion: (server: TestServer, id: string, opts: { ttl?: number; jti?: string; aud?: string; sub?: string } = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({})
        .setProtectedHeader({ alg })
        .setIssuer(opts.sub ?? `workload:${id}`)
        .setSubject(opts.sub ?? `workload:${id}`)
        .setAudience(opts.aud ?? `${server.issuer}/token`)
        .setIssuedAt(now)
        .setExpirationTime(now + (opts.ttl ?? 60))
        .setJti(opts.jti ?? randomUUID())
        .sign(privateKey as KeyObject);
    },
  };
}

/** RFC 7523 grant with `assertion`, and a proof by `key`. */
export async function bearerAssertion(server: TestServer, assertion: string, key: DpopKey | null, extra: Record<string, string> = {}) {
  const url = `${server.issuer}/token`;
  const headers: Record<string, string> = key ? { DPoP: await key.proof('POST', url) } : {};
  return postForm(url, { grant_type: JWT_BEARER, assertion, ...extra }, headers);
}

export const claimsOf = (token: string) => decodeJwt(token);
