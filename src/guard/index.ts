/**
 * The Tether guard: what a resource server uses to accept Tether tokens. Framework-free core ({@link Guard}),
 * push revocation ({@link RevocationStream}), request-time Cedar policy ({@link ApiPolicy}) or a hook of your own, and the pieces to assemble them. Adapters
 * for Node's http, Express and Fastify are separate entry points under `./adapters/`, so importing this file pulls
 * in no web framework; nothing here imports the authorization server's storage or HTTP code.
 *
 * @see ../../docs/guard.md
 */
export { Guard, refusalBody } from './guard.js';
export type { CheckOptions, GuardAllow, GuardOptions, GuardRefusal, GuardRequest, GuardResult, RefusalCode, RefusalError } from './guard.js';
export { AccessTokenVerifier, TokenRejected } from './access-token.js';
export type { TokenRejection, VerifiedIdentity, VerifiedToken } from './access-token.js';
export { ProofRejected, ProofVerifier } from '../dpop/proof-verifier.js';
export type { NonceSource, ProofExpectation, ProofRejection } from '../dpop/proof-verifier.js';
export { KeysUnavailable, RemoteJwks, StaticJwks } from './keys.js';
export type { KeySource, RemoteJwksOptions } from './keys.js';
export { RevocationStream } from './revocation-stream.js';
export type { RevocationHealth, RevocationSource } from './revocation-source.js';
export type { RevocationStreamOptions, StreamNotice } from './revocation-stream.js';
export { RevocationList } from './revocation-list.js';
export type { RevocableToken } from './revocation-list.js';
export { DecisionCache } from './policy.js';
export type { AuthorizationDecision, Authorize, PolicyOptions, RequestContext } from './policy.js';
export { ApiPolicy, loadApiPolicy } from './api-policy.js';
export type { ApiPolicyOptions, ReloadOutcome } from './api-policy.js';
export { readSecurityEvent, TOKEN_CLAIMS_CHANGE } from './security-events.js';
export type { ClaimsChange, GuardEvent } from './security-events.js';
export { connectGuard } from './connect.js';
export type { ConnectedGuard, ConnectGuardOptions } from './connect.js';
export { discoverIssuer } from './discovery.js';
export { createGateway, IDENTITY_HEADERS } from './gateway.js';
export type { GatewayOptions } from './gateway.js';
export { consoleLogger, silentLogger } from './logger.js';
export type { GuardLogger } from './logger.js';
export { JWS_ALGORITHMS } from '../dpop/jws.js';
export type { JwsAlgorithm } from '../dpop/jws.js';
