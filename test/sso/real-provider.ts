import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import Provider from 'oidc-provider';
import { freePort } from '../support/ports.js';

/** The account the test signs in as at the provider, with the claims Tether maps. */
export interface ProviderAccount {
  id: string;
  claims: Record<string, unknown>;
  /** What the provider says about how the person signed in (RFC 8176 values). */
  amr: string[];
  acr?: string;
}

export interface RealProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  close(): Promise<void>;
}

/**
 * npm oidc-provider (panva, OpenID Certified), started on a free loopback port with one confidential client for
 * Tether and one account. Its login page is the test's own: a "Continue as <name>" button that finishes the
 * interaction with the account and its amr/acr; consent is given for Tether's client as a first-party app.
 */
export async function startRealProvider(redirectUri: string, account: ProviderAccount): Promise<RealProvider> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = 'tether';
  const clientSecret = 'real-provider-client-secret-0123456789abcdef';
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id, ...account.claims }) }),
    // acr and amr (from the login result) ride with the openid scope, as providers that send them do.
    claims: { openid: ['sub', 'acr', 'amr', 'auth_time'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'], groups: ['groups'] },
    scopes: ['openid', 'email', 'profile', 'groups'],
    // The scopes' claims in the ID token itself, as Okta or Entra put groups there when told to.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['oidc-provider-test-cookie-key-0123456789'] },
    // First-party client: the grant is given without a consent screen.
    loadExistingGrant: async (ctx: { oidc: { client: { clientId: string }; session: { accountId: string }; provider: { Grant: new (o: object) => { addOIDCScope(s: string): void; save(): Promise<string> } } } }) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email profile groups');
      await grant.save();
      return grant;
    },
  });
  provider.on('server_error', (_ctx: unknown, error: unknown) => console.error('oidc-provider server_error', error));
  const callback = provider.callback();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', issuer);
    if (url.pathname.startsWith('/interaction/')) {
      void interaction(provider, req, res, account).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
      return;
    }
    callback(req, res);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    issuer,
    clientId,
    clientSecret,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function interaction(provider: { interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<{ uid: string; prompt: { name: string } }>; interactionFinished(req: IncomingMessage, res: ServerResponse, result: object, opts: object): Promise<void> }, req: IncomingMessage, res: ServerResponse, account: ProviderAccount) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'POST') {
    // Drain the body (the button posts nothing we need).
    for await (const _chunk of req) void _chunk;
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: account.id, amr: account.amr, ...(account.acr ? { acr: account.acr } : {}) } },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  const name = String(account.claims['name'] ?? account.id);
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html><head><title>Corp sign-in</title></head><body>
<h1>Corp identity provider</h1><p>Prompt: ${details.prompt.name}</p>
<form method="post" action="/interaction/${details.uid}"><button type="submit">Continue as ${name}</button></form>
</body></html>`);
}
