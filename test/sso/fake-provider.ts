import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { freePort } from '../support/ports.js';

/** What the next ID token says, and how the provider misbehaves, for one test. */
export interface ProviderScript {
  claims: Record<string, unknown>;
  /** Overrides of the ID token's own claims: another `iss`, a wrong `nonce`... */
  idToken?: Record<string, unknown>;
  /** Sign with a key that is not in the JWKS. */
  foreignKey?: boolean;
  /** The token endpoint drops the connection (the provider is down after the redirect). */
  tokenDown?: boolean;
  /** The authorization endpoint answers with this error instead of a code. */
  authorizeError?: string;
}

/**
 * A small OpenID provider the test controls, written from OpenID Connect Core §3.1: discovery, JWKS, an
 * authorization endpoint that signs the person in at once (302 back with a code), and a token endpoint that checks
 * client authentication and PKCE (RFC 7636 §4.6) and returns the ID token the test scripted, honest or not. The
 * real provider of the end-to-end test is npm oidc-provider; this one can lie on purpose.
 */
export class FakeProvider {
  script: ProviderScript = { claims: {} };
  /** The last authorization request's parameters, as the browser brought them. */
  lastAuthorize: URLSearchParams | undefined;
  /** Where the authorization endpoint last sent the browser back to (the callback URL with code and state). */
  lastRedirect: string | undefined;
  private readonly codes = new Map<string, { params: URLSearchParams }>();

  private constructor(
    readonly issuer: string,
    private readonly server: Server,
    private readonly key: CryptoKey,
    private readonly foreign: CryptoKey,
    private readonly jwk: JWK,
    readonly clientId: string,
    readonly clientSecret: string,
  ) {}

  static async start(clientId = 'tether', clientSecret = 'upstream-client-secret-0123456789'): Promise<FakeProvider> {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const foreign = (await generateKeyPair('ES256')).privateKey;
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    let provider: FakeProvider | undefined;
    const server = createServer((req, res) => {
      void provider?.handle(req, res).catch(() => {
        res.statusCode = 500;
        res.end();
      });
    });
    provider = new FakeProvider(issuer, server, privateKey, foreign, jwk, clientId, clientSecret);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return provider;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.issuer);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer: this.issuer,
        authorization_endpoint: `${this.issuer}/authorize`,
        token_endpoint: `${this.issuer}/token`,
        jwks_uri: `${this.issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
      });
    }
    if (url.pathname === '/jwks') return json(200, { keys: [this.jwk] });
    if (url.pathname === '/authorize') {
      this.lastAuthorize = url.searchParams;
      const back = new URL(url.searchParams.get('redirect_uri') ?? '');
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      if (this.script.authorizeError) {
        back.searchParams.set('error', this.script.authorizeError);
      } else {
        const code = randomBytes(16).toString('base64url');
        this.codes.set(code, { params: url.searchParams });
        back.searchParams.set('code', code);
      }
      this.lastRedirect = back.href;
      res.writeHead(302, { location: back.href });
      res.end();
      return;
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      if (this.script.tokenDown) {
        req.socket.destroy();
        return;
      }
      const body = new URLSearchParams(await text(req));
      // RFC 6749 §2.3.1: the id and secret are form-urlencoded before Basic encoding; decode both.
      const basic = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString('utf8');
      const [id = '', secret = ''] = basic.split(':').map((part) => decodeURIComponent(part.replace(/\+/g, ' ')));
      if (id !== this.clientId || secret !== this.clientSecret) return json(401, { error: 'invalid_client' });
      const issued = this.codes.get(body.get('code') ?? '');
      this.codes.delete(body.get('code') ?? '');
      if (!issued) return json(400, { error: 'invalid_grant' });
      const challenge = createHash('sha256').update(body.get('code_verifier') ?? '').digest('base64url');
      if (challenge !== issued.params.get('code_challenge') || body.get('redirect_uri') !== issued.params.get('redirect_uri')) {
        return json(400, { error: 'invalid_grant', error_description: 'PKCE or redirect_uri mismatch' });
      }
      const now = Math.floor(Date.now() / 1000);
      const idToken = await new SignJWT({
        nonce: issued.params.get('nonce'),
        ...this.script.claims,
        ...this.script.idToken,
      })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(String(this.script.idToken?.['iss'] ?? this.issuer))
        .setAudience(this.clientId)
        .setSubject(String(this.script.claims['sub'] ?? 'subject-1'))
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(this.script.foreignKey ? this.foreign : this.key);
      return json(200, { access_token: randomBytes(16).toString('base64url'), token_type: 'Bearer', expires_in: 300, id_token: idToken });
    }
    json(404, { error: 'not_found' });
  }
}

function text(req: import('node:http').IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The `upstream_providers` entry for a fake provider, its secret in a file. */
export function providerConfig(provider: FakeProvider, secretFile: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'corp',
    display_label: 'Corp SSO',
    issuer: provider.issuer,
    client_id: provider.clientId,
    client_secret_file: secretFile,
    allowed_email_domains: ['corp.example'],
    timeout: 3,
    ...over,
  };
}
