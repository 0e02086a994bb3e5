import { dpopFormPost, type DpopPostContext } from './oauth-http.js';

/**
 * Abandons a device code at the server (Tether's `/device_authorization/abandon`, docs/cli.md), proven with the
 * login's DPoP key: after a cancelled login nobody can approve the code in a browser, and no grant stays behind.
 * Best effort and brief: a cancelled login must not hang on an unreachable server. Resolves whether it worked.
 */
export async function abandonRequest(
  ctx: DpopPostContext,
  endpoint: string,
  params: { clientId: string; deviceCode: string },
  timeoutMs = 3_000,
): Promise<boolean> {
  const form = new URLSearchParams({ client_id: params.clientId, device_code: params.deviceCode });
  const timeout = new Promise<false>((resolve) => setTimeout(resolve, timeoutMs, false).unref());
  const attempt = dpopFormPost(ctx, endpoint, form).then(
    (reply) => reply.status === 200,
    () => false,
  );
  return Promise.race([attempt, timeout]);
}
