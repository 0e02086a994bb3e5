import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { FormBrowser } from '../support/browser-form.js';
import type { TestServer } from '../support/in-process.js';
import type { GuardLogger } from '../../src/guard/logger.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `condition` every 10 ms; returns the milliseconds it took. */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<number> {
  const start = performance.now();
  while (!(await condition())) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
  return performance.now() - start;
}

export function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The "existing API that cannot change": records what reaches it and echoes the identity headers. */
export async function startUpstream(): Promise<{ url: string; seen: SeenRequest[]; close(): Promise<void> }> {
  const seen: SeenRequest[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      response.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] });
      response.end(JSON.stringify({ hello: request.headers['x-tether-sub'] ?? null }));
    });
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/base`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A TCP relay to the server that a test can cut (dropping every connection and refusing new ones) and restore:
 * a network failure between a guard and the authorization server, with the server itself up.
 */
export async function startRelay(targetPort: number) {
  const sockets = new Set<Socket>();
  let open = true;
  const server = createTcpServer((socket) => {
    if (!open) {
      socket.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(socket).add(upstream);
    const drop = () => {
      socket.destroy();
      upstream.destroy();
      sockets.delete(socket);
      sockets.delete(upstream);
    };
    socket.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    socket.pipe(upstream).pipe(socket);
  });
  const port = await listen(server);
  return {
    port,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      open = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** openid-client, configured for the test server as the independent client. */
export async function oidcClient(server: TestServer): Promise<client.Configuration> {
  return client.discovery(new URL(server.issuer), 'tether-cli', undefined, client.None(), {
    execute: [client.allowInsecureRequests],
    algorithm: 'oauth2',
  });
}

export interface OidcSession {
  dpop: client.DPoPHandle;
  accessToken: string;
  /** The thumbprint of the session's DPoP key, which the token is bound to. */
  jkt: string;
}

/** A device login by openid-client with its own DPoP key, approved as `user` (alice) through the verification page. */
export async function oidcLogin(
  server: TestServer,
  config: client.Configuration,
  params: Record<string, string> = {},
  user = 'alice',
): Promise<OidcSession> {
  const pair = await client.randomDPoPKeyPair();
  const dpop = client.getDPoPHandle(config, pair);
  const device = await client.initiateDeviceAuthorization(config, params);
  const approval = new FormBrowser(server.issuer).decide(device.user_code, 'approve', user);
  const tokens = await client.pollDeviceAuthorizationGrant(config, device, undefined, { DPoP: dpop });
  await approval;
  const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return { dpop, accessToken: tokens.access_token, jkt: createHash('sha256').update(canonical).digest('base64url') };
}

/** What a refused openid-client call carried: status, the first challenge's scheme and parameters, the body. */
export interface Refusal {
  status: number;
  scheme: string | undefined;
  params: Record<string, string>;
  body: Record<string, unknown>;
  headers: Headers;
}

/** Calls through openid-client and returns the refusal (openid-client throws on a WWW-Authenticate challenge). */
export async function refusalOf(call: Promise<Response>): Promise<Refusal> {
  try {
    const response = await call;
    return { status: response.status, scheme: undefined, params: {}, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
  } catch (error) {
    if (!(error instanceof client.WWWAuthenticateChallengeError)) throw error;
    const [first] = error.cause;
    return {
      status: error.response.status,
      scheme: first?.scheme,
      params: { ...(first?.parameters ?? {}) } as Record<string, string>,
      body: (await error.response.json()) as Record<string, unknown>,
      headers: error.response.headers,
    };
  }
}

/** A logger that keeps lines for assertions (and shows nothing). */
export function memoryLogger(): GuardLogger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (fields: Record<string, unknown>, message: string) => lines.push(`${level} ${message} ${JSON.stringify(fields)}`);
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
