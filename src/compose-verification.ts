import type { Logger } from 'pino';
import type { AuditLog } from './audit/event.js';
import type { Config } from './config/schema.js';
import type { DeviceDecisions } from './device-flow/decision.js';
import type { DeviceAuthorizationStore } from './device-flow/device-authorization.js';
import { DeviceRequestLimits } from './device-flow/request-limits.js';
import type { Metrics } from './observability/metrics.js';
import type { Clock } from './shared/clock.js';
import { PasswordQueue } from './users/password-queue.js';
import type { UserDirectory } from './users/user.js';
import { CodeEntry } from './verification/code-entry.js';
import type { BackoffLimits } from './verification/failure-backoff.js';
import type { FailureCountsFor } from './verification/failure-counts.js';
import type { VerificationObserver } from './verification/observer.js';
import { SignIn } from './verification/sign-in.js';

type BackoffConfig = { free_failures: number; base_delay: number; max_delay: number; max_failures?: number | undefined; window: number };

function backoff(c: BackoffConfig): BackoffLimits {
  return {
    freeFailures: c.free_failures,
    baseDelay: c.base_delay,
    maxDelay: c.max_delay,
    maxFailures: c.max_failures ?? Infinity,
    window: c.window,
  };
}

/**
 * Part of the composition root: the guessing defences of the verification page and the device authorization
 * endpoint, built from `brute_force`, with their counters and alarm wired to metrics and the log. The code-entry
 * and sign-in failures are counted where `counts` says (Storage.failureCounts: memory on SQLite, a table shared by
 * every instance on PostgreSQL).
 */
export function composeVerification(deps: {
  config: Config;
  audit: AuditLog;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  users: UserDirectory;
  decisions: DeviceDecisions;
  store: DeviceAuthorizationStore;
  counts: FailureCountsFor;
}) {
  const { code_entry: code, sign_in: signIn, device_authorization: device } = deps.config.brute_force;
  const observer: VerificationObserver = {
    codeEntryFailure: (reason) => deps.metrics.codeEntryFailures.inc({ reason }),
    signInFailure: (reason) => deps.metrics.signInFailures.inc({ reason }),
    alarm: (kind, report) => {
      deps.metrics.failureAlarms.inc({ kind });
      deps.logger.warn({ kind, failures: report.failures, windowSeconds: report.window }, 'ALARM: many failed attempts across the server; someone may be guessing');
    },
  };
  const codeEntry = new CodeEntry({
    decisions: deps.decisions,
    audit: deps.audit,
    clock: deps.clock,
    observer,
    counts: deps.counts,
    limits: {
      perAccount: backoff(code.per_account),
      perSession: backoff(code.per_session),
      perIp: backoff(code.per_ip),
      alarmFailures: code.alarm_failures,
      alarmWindow: code.alarm_window,
    },
  });
  const signInService = new SignIn({
    users: deps.users,
    audit: deps.audit,
    clock: deps.clock,
    observer,
    counts: deps.counts,
    queue: new PasswordQueue(signIn.concurrent_checks, signIn.queue_length),
    limits: {
      perAccount: backoff(signIn.per_account),
      perIp: backoff(signIn.per_ip),
      alarmFailures: signIn.alarm_failures,
      alarmWindow: signIn.alarm_window,
    },
  });
  const deviceLimits = new DeviceRequestLimits(
    {
      perIpRequests: device.per_ip_requests,
      window: device.window,
      liveCodesPerIp: device.live_codes_per_ip,
      liveCodesPerClient: device.live_codes_per_client,
    },
    deps.store,
    deps.clock,
  );
  return {
    codeEntry,
    signIn: signInService,
    deviceLimits,
    async sweep(): Promise<void> {
      deviceLimits.sweep();
      await Promise.all([codeEntry.sweep(), signInService.sweep()]);
    },
  };
}
