import type { ClientRegistry } from '../clients/client-registry.js';
import { DEVICE_CODE_GRANT } from '../config/schema.js';
import type { DeviceAuthorizationStore } from '../device-flow/device-authorization.js';
import type { PollPacer } from '../device-flow/poll-pacer.js';
import type { DpopVerifier } from '../dpop/proof.js';
import { AccessDenied, AuthorizationPending, ExpiredToken, InvalidGrant } from '../oauth/errors.js';
import { hashSecret } from '../shared/crypto.js';
import type { Clock } from '../shared/clock.js';
import { accessTokenTtl, mintAccessToken, type AccessTokenPolicy } from '../tokens/access-token.js';
import type { KeyRing } from '../tokens/signing-keys.js';
import type { GrantType, TokenRequest, TokenResponse } from './grant-type.js';

export interface DeviceCodeGrantDeps {
  issuer: string;
  clients: ClientRegistry;
  store: DeviceAuthorizationStore;
  pacer: PollPacer;
  dpop: DpopVerifier;
  keys: KeyRing;
  clock: Clock;
  tokens: AccessTokenPolicy;
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
    const client = deps.clients.authenticate(request.credentials, DEVICE_CODE_GRANT);
    const deviceCode = request.params.require('device_code');
    const now = deps.clock.now();
    const proof = request.dpopProof
      ? await deps.dpop.verify(request.dpopProof, { htm: 'POST', htu: request.htu, now })
      : undefined;

    const authorization = await deps.store.findByDeviceCodeHash(hashSecret(deviceCode));
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
    if (authorization.status === 'pending') {
      deps.pacer.poll(authorization.id, authorization.interval, authorization.expiresAt);
      throw new AuthorizationPending('The person has not yet approved the request.');
    }

    const grantId = authorization.grantId;
    const resource = deps.clients.resource(authorization.resource);
    if (grantId === null || authorization.approverUserId === null || authorization.decidedAt === null || !resource) {
      throw new InvalidGrant('The approval is incomplete.');
    }
    const jkt = proof?.jkt ?? null;
    const ttl = accessTokenTtl(deps.tokens, client, resource);
    const minted = await mintAccessToken(
      deps.keys,
      deps.issuer,
      {
        id: grantId,
        userId: authorization.approverUserId,
        clientId: client.id,
        deviceAuthorizationId: authorization.id,
        scopes: authorization.scopes,
        resource: authorization.resource,
        dpopJkt: jkt,
        authTime: authorization.decidedAt,
        createdAt: authorization.decidedAt,
      },
      ttl,
      now,
    );
    // The single-use claim comes after every check that can fail, so two concurrent polls cannot both redeem.
    const redeemed = await deps.store.redeem(
      authorization.id,
      { jti: minted.jti, grantId, issuedAt: minted.issuedAt, expiresAt: minted.expiresAt },
      jkt,
    );
    if (!redeemed) throw new InvalidGrant('The device code was already used.');
    deps.pacer.forget(authorization.id);
    return {
      access_token: minted.token,
      token_type: jkt ? 'DPoP' : 'Bearer',
      expires_in: minted.expiresIn,
      scope: authorization.scopes.join(' '),
    };
  }
}
