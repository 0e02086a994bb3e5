import type { AlarmReport } from './failure-alarm.js';

/**
 * What the verification services tell operators, beyond the audit log: counters and the server-wide alarm. The
 * composition root turns these into Prometheus metrics and log lines, so the domain needs neither.
 */
export interface VerificationObserver {
  codeEntryFailure(reason: string): void;
  signInFailure(reason: string): void;
  /** Many failures across the server: a metric, an audit event (written by the service) and a warning. */
  alarm(kind: 'user_code' | 'sign_in', report: AlarmReport): void;
}
