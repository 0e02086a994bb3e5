import type { Client, Resource } from '../clients/client.js';
import type { RequestOrigin } from '../oauth/request-origin.js';
import { resourceFacts, type PolicyGate } from '../policy-gate/policy-gate.js';
import type { Grant } from '../grants/grant.js';
import { PASSWORD_SIGN_IN } from '../users/user.js';
import { InvalidGrant } from '../oauth/errors.js';
import type { DeviceFacts, IssueInput, PolicyAllow, RefreshInput, UserFacts } from '../policy/types.js';

/** What a token step (issuance or refresh) is decided on. */
export interface TokenStep {
  step: 'issuance' | 'refresh';
  now: number;
  client: Client;
  resource: Resource;
  grant: Grant;
  /** The key the tokens will be bound to (the proof's), null for Bearer. */
  jkt: string | null;
  /** The scopes the tokens would carry. */
  scopes: readonly string[];
  context: RequestOrigin;
  deviceAuthorizationId?: string;
}

/**
 * Asks policy whether tokens may be issued or refreshed; a refusal is recorded and thrown as the step's OAuth error
 * (`access_denied` at issuance, `invalid_grant` at refresh, `invalid_scope` if policy left no scope). The person is
 * read from the directory here, so one deactivated or removed from a group since the approval counts now.
 */
export async function decideTokenStep(
  policy: PolicyGate,
  s: TokenStep,
): Promise<{ decision: PolicyAllow; device: DeviceFacts; user: UserFacts }> {
  const { grant } = s;
  const user = await policy.user(grant.userId);
  if (!user) throw new InvalidGrant('The person this grant is for is no longer known.');
  // The device key that vouched for the login, from the grant: its trust now, not at login, decides (a revoked
  // device's refresh is refused). Without one, the token key stands for the device.
  const device = await policy.device(grant.deviceJkt ?? s.jkt, grant.environment);
  const input: IssueInput | RefreshInput = {
    step: s.step,
    now: s.now,
    client: { id: s.client.id },
    resource: resourceFacts(s.resource),
    device,
    scopes: s.scopes,
    user,
    signIn: { ...(grant.authentication ?? PASSWORD_SIGN_IN), at: grant.authTime },
    requester: s.context,
    grantCreatedAt: grant.createdAt,
  };
  // Set, not spread in: every token request builds this (V8 copies a trailing spread on its slow path).
  if (grant.environment !== null) input.environment = grant.environment;
  const decision = policy.decide(input);
  if (decision.decision === 'deny') {
    throw await policy.refuse(s.step, decision, {
      at: s.now,
      userId: grant.userId,
      clientId: s.client.id,
      grantId: grant.id,
      ...(s.deviceAuthorizationId ? { deviceAuthorizationId: s.deviceAuthorizationId } : {}),
      jkt: s.jkt,
      parent: { type: 'device.approved', grantId: grant.id },
      data: {
        ip: s.context.ip,
        user_agent: s.context.userAgent,
        scopes: s.scopes,
        resource: s.resource.uri,
        device_class: device.class,
      },
    });
  }
  // The person as the directory knows them now: their groups go into the token (the `groups` claim).
  return { decision, device, user };
}
