import { AccessDenied, InvalidGrant, InvalidRequest, InvalidScope, UnauthorizedClient, type OAuthError } from '../oauth/errors.js';
import type { PolicyDeny, PolicyStep } from './types.js';

/**
 * The OAuth error that ends a step policy refused, with the person-readable reason as `error_description`.
 *
 * - device authorization: `unauthorized_client` (RFC 8628 §3.2 answers with RFC 6749 §5.2 codes, and "not
 *   authorized to use this grant" is what a refusal there means);
 * - approval and issuance: `access_denied` (RFC 8628 §3.5: the authorization request was denied), which the
 *   device sees on its next poll after a refused approval;
 * - refresh: `invalid_grant` (RFC 6749 §5.2: the grant may no longer be used);
 * - at the token and device endpoints, `invalid_scope` when policy left none of the requested scopes.
 *
 * The API step has no OAuth error of this kind; see {@link apiRefusal}.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export function policyRefusal(step: Exclude<PolicyStep, 'api'>, decision: PolicyDeny): OAuthError {
  // The approval page is not an OAuth response: the person reads the message, the device gets access_denied.
  if (decision.cause === 'no_scope' && step !== 'approval') return new InvalidScope(decision.message);
  switch (step) {
    case 'device_authorization':
      return new UnauthorizedClient(decision.message);
    case 'approval':
    case 'issuance':
      return new AccessDenied(decision.message);
    case 'refresh':
      return new InvalidGrant(decision.message);
    // Creating a workload is not an OAuth grant: refused as access_denied (the API answers 403).
    case 'workload_creation':
      return new AccessDenied(decision.message);
    // RFC 8693 §2.2.2: a subject token "unacceptable based on policy" is invalid_request (the RFC 7523 grant
    // turns it into invalid_grant, its own code for a refused assertion).
    case 'workload_exchange':
    case 'delegation':
      return new InvalidRequest(decision.message);
  }
}

/** How a guard answers an API request policy refused. */
export interface ApiRefusal {
  status: 403;
  error: 'insufficient_scope';
  description: string;
}

/**
 * A refused API request: 403 with `insufficient_scope`, the one RFC 6750 §3.1 code for "the token is valid but
 * does not allow this". The token is fine, so `invalid_token` (401) would make clients throw it away and retry.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function apiRefusal(decision: PolicyDeny): ApiRefusal {
  return { status: 403, error: 'insufficient_scope', description: decision.message };
}
