import type { AuditEvent } from './event.js';

/**
 * OCSF renderings for SIEMs. Sign-in, approval, issuance and revocation map to the Authentication class (3002);
 * introspection and admin calls to API Activity (6003). Fields follow OCSF 1.x; what has no OCSF home goes in
 * `unmapped`.
 * @see https://schema.ocsf.io/classes/authentication
 * @see https://schema.ocsf.io/classes/api_activity
 */
const AUTHENTICATION = { class_uid: 3002, class_name: 'Authentication', category_uid: 3, category_name: 'Identity & Access Management' };
const API_ACTIVITY = { class_uid: 6003, class_name: 'API Activity', category_uid: 6, category_name: 'Application Activity' };
/** Directory writes and offboarding (SCIM). @see https://schema.ocsf.io/classes/account_change */
const ACCOUNT_CHANGE = { class_uid: 3001, class_name: 'Account Change', category_uid: 3, category_name: 'Identity & Access Management' };

/** Account Change activity ids: 1 Create, 5 Disable, 6 Delete, 99 Other. */
function accountActivity(e: AuditEvent): number {
  if (e.type === 'user.offboarded') return e.data['reason'] === 'deleted' ? 6 : 5;
  const operation = e.data['operation'];
  return operation === 'create' ? 1 : operation === 'delete' ? 6 : 99;
}

const FAILURES = new Set(['user_code.rejected', 'user.sign_in_failed', 'device.denied', 'refresh_token.reuse_detected', 'policy.denied']);

export function toOcsf(e: AuditEvent): Record<string, unknown> {
  const api = e.type === 'token.introspected' || e.type === 'admin.action';
  const account = e.type === 'directory.changed' || e.type === 'user.offboarded';
  const klass = account ? ACCOUNT_CHANGE : api ? API_ACTIVITY : AUTHENTICATION;
  // Authentication activity ids: 1 Logon, 2 Logoff (we use it for revocation), 99 Other; API: 99 Other.
  const activity = account
    ? accountActivity(e)
    : api
      ? 99
      : e.type === 'grant.revoked'
        ? 2
        : e.type.startsWith('token.') || e.type === 'device.approved' || e.type === 'user.signed_in'
          ? 1
          : 99;
  const failed = FAILURES.has(e.type);
  const ip = e.data['ip'] ?? e.data['approver_ip'];
  return {
    ...klass,
    activity_id: activity,
    type_uid: klass.class_uid * 100 + activity,
    time: e.at * 1000,
    severity_id: e.type === 'refresh_token.reuse_detected' ? 4 : failed ? 3 : 1,
    status_id: failed ? 2 : 1,
    status: failed ? 'Failure' : 'Success',
    message: e.type,
    metadata: { version: '1.1.0', product: { name: 'Tether', vendor_name: 'Tether' }, uid: e.id, sequence: e.seq },
    ...(e.userId ? { user: { uid: e.userId, name: e.userId } } : {}),
    ...(ip ? { src_endpoint: { ip } } : {}),
    ...(e.data['user_agent'] ? { http_request: { user_agent: e.data['user_agent'] } } : {}),
    ...(e.clientId ? { service: { name: e.clientId } } : {}),
    ...(e.grantId ? { session: { uid: e.grantId } } : {}),
    unmapped: { tether_type: e.type, jti: e.jti, jkt: e.jkt, device_authorization: e.deviceAuthorizationId, parent: e.parentId, ...e.data },
  };
}
