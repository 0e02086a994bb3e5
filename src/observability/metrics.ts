import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics for operators: what the device flow is doing and how fast. One registry per server (not
 * prom-client's global one) so several servers in one process, as in tests, do not share counts.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly deviceCodesRequested = new Counter({
    name: 'tether_device_codes_requested_total',
    help: 'Device authorization requests answered with codes.',
    labelNames: ['client'] as const,
    registers: [this.registry],
  });
  readonly decisions = new Counter({
    name: 'tether_device_decisions_total',
    help: 'Approvals and denials on the verification page.',
    labelNames: ['decision'] as const,
    registers: [this.registry],
  });
  readonly tokenRequests = new Counter({
    name: 'tether_token_requests_total',
    help: 'Token endpoint answers by grant type and outcome (issued, or the OAuth error code: authorization_pending and slow_down are polls).',
    labelNames: ['grant_type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly revocations = new Counter({
    name: 'tether_revocations_total',
    help: 'Revocation statements by path (token_revocation, admin_api, refresh_token_reuse).',
    labelNames: ['via', 'kind'] as const,
    registers: [this.registry],
  });
  readonly grantsRevoked = new Counter({
    name: 'tether_grants_revoked_total',
    help: 'Grants ended by revocations.',
    labelNames: ['via'] as const,
    registers: [this.registry],
  });
  readonly refreshReuse = new Counter({
    name: 'tether_refresh_token_reuse_detected_total',
    help: 'Rotated refresh tokens presented again (each revokes its grant).',
    registers: [this.registry],
  });
  readonly codeEntryFailures = new Counter({
    name: 'tether_user_code_failures_total',
    help: 'User codes entered that matched nothing, or were refused by a rate limit.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly signInFailures = new Counter({
    name: 'tether_sign_in_failures_total',
    help: 'Sign-ins on the verification page that failed: wrong password, rate limited, or busy.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly failureAlarms = new Counter({
    name: 'tether_verification_failure_alarms_total',
    help: 'Server-wide alarms: many wrong user codes (kind=user_code) or passwords (kind=sign_in) in a short window. Nobody is refused for them.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'tether_http_request_duration_seconds',
    help: 'HTTP request latency by route.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'tether_' });
  }
}
