import { stampMs } from '../shared/clock.js';
import { DEVICE_CODE_GRANT } from '../oauth/grant-types.js';
import type { DeviceAuthorizationStore } from '../device-flow/device-authorization.js';
import { findByDeviceCode } from '../device-flow/device-code.js';
import type { PollPacing } from '../device-flow/poll-pacing.js';
import { boundLifetimes, lifetimesFor, policyBoundGrant } from '../grants/lifetime.js';
import { AccessDenied, AuthorizationPending, ExpiredToken, InvalidGrant } from '../oauth/errors.js';
import { deviceClaims } from '../policy/device-trust.js';
import { subjectOf } from '../tokens/access-token.js';
import { issuanceEvent, issueTokens } from '../tokens/issue-tokens.js';
import type { GrantType, IssuingDeps, TokenRequest, TokenResponse } from './grant-type.js';
import { inspectTokenRequestProof } from './proof-policy.js';
import { decideTokenStep } from './token-policy.js';

export interface DeviceCodeGrantDeps extends IssuingDeps {
  store: DeviceAuthorizationStore;
  pacer: PollPacing;
}

/**
 * The token endpoint's device_code grant: answers polls and redeems an approved code exactly once.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.4
 */
export class DeviceCodeGrant implements GrantType {
  readonly type = DEVICE_CODE_GRANT;

  constructor(private readonly deps: DeviceCodeGrantDeps) {}

  async handle(request: TokenRequest): Promise<TokenResponse> {
    const { deps } = this;
    const client = await deps.clients.authenticate(request.credentials, DEVICE_CODE_GRANT, request.htu);
    const deviceCode = request.params.require('device_code');
    const now = deps.clock.now();
    // Stamped before the grant is read: a revocation that this read does not see is stamped later (inside its
    // transaction), so its statement covers this token at every guard, as the revoked grant does at the server.
    const issuedAtMs = stampMs(deps.clock);
    const inspected = inspectTokenRequestProof(deps.proofs, client, request, now);

    // A right row id with a wrong secret is undefined here, answered exactly as an unknown code.
    const authorization = await findByDeviceCode(deps.store, deviceCode);
    // The signature is checked for every answer but a pending one: a code of this client, still pending, either
    // bound to no key (its answer is the same whoever signed: anyone holding the code gets it with a key of their
    // own) or bound to the very key the proof names. For the bound code, the pacer checks the signature if pacing
    // comes to depend on it, so a code thief who names the device's public key cannot make the device slow down.
    // Every answer that carries or binds anything gets the full check. See docs/architecture.md, "A pending poll's proof".
    const pending =
      authorization !== undefined &&
      authorization.clientId === client.id &&
      authorization.status === 'pending' &&
      authorization.expiresAt > now;
    const unsigned =
      pending && (authorization.dpopJkt === null || (authorization.dpopJkt === inspected?.jkt && deps.pacer.defersSignatures));
    const proof = inspected && (unsigned ? await inspected.acceptUnsigned() : await inspected.confirm());
    if (!authorization || authorization.clientId !== client.id) {
      throw new InvalidGrant('The device code is unknown or was issued to another client.');
    }
    // A code bound to a key at the device endpoint is worthless without a proof by that same key.
    if (authorization.dpopJkt !== null && authorization.dpopJkt !== proof?.jkt) {
      throw new InvalidGrant('The device code is bound to a different key.');
    }
    if (authorization.status === 'redeemed') throw new InvalidGrant('The device code was already used.');
    if (authorization.expiresAt <= now) throw new ExpiredToken('The device code has expired; start again.');
    if (authorization.status === 'denied') throw new AccessDenied('The request was denied.');
    if (authorization.status === 'abandoned') throw new InvalidGrant('The device abandoned this request.');
    if (authorization.status === 'pending') {
      const witness = unsigned && authorization.dpopJkt !== null ? inspected : undefined;
      await deps.pacer.poll(authorization.id, authorization.interval, authorization.expiresAt, witness);
      throw new AuthorizationPending('The person has not yet approved the request.');
    }

    const grant = authorization.grantId === null ? undefined : await deps.grants.findGrant(authorization.grantId);
    const resource = deps.clients.resource(authorization.resource);
    if (!grant || !resource) throw new InvalidGrant('The approval is incomplete.');
    if (grant.status !== 'active' || grant.expiresAt <= now) throw new InvalidGrant('The grant was revoked or has ended.');
    const jkt = proof?.jkt ?? null;
    // Policy is asked only here, for an approved code: a pending poll never reaches it.
    const { decision, device, user } = await decideTokenStep(deps.policy, {
      step: 'issuance',
      now,
      client,
      resource,
      grant,
      jkt,
      scopes: grant.scopes,
      context: request.context,
      deviceAuthorizationId: authorization.id,
    });
    const subject = { ...subjectOf(grant, decision.scopes, jkt), groups: user.groups, claims: deviceClaims(device) };
    const issuance = await issueTokens({
      keys: deps.keys,
      issuer: deps.issuer,
      client,
      subject,
      accessTokenTtl: boundLifetimes(lifetimesFor(deps.lifetimes, client, resource), decision).accessTokenTtl,
      grant: policyBoundGrant(grant, decision),
      parentRefreshHash: null,
      now,
      issuedAtMs,
    });
    // The single-use claim comes after every check that can fail, so two concurrent polls cannot both redeem.
    const event = issuanceEvent('token.issued', subject, issuance, request.context, now, {
      device_authorization_id: authorization.id,
      device_class: device.class,
      policy: decision.reasons,
    });
    if (!(await deps.store.redeem(authorization.id, issuance.issued, jkt, [event]))) {
      throw new InvalidGrant('The device code was already used.');
    }
    await deps.pacer.forget(authorization.id);
    return issuance.response;
  }
}
