import type { AuditEventInput, AuditLog } from '../audit/event.js';
import type { DeviceDecisions, PendingRequest } from '../device-flow/decision.js';
import type { RequestOrigin } from '../oauth/request-origin.js';
import { normalizeUserCode } from '../device-flow/user-code.js';
import { hashSecret } from '../shared/crypto.js';
import type { Clock } from '../shared/clock.js';
import { FailureAlarm } from './failure-alarm.js';
import { CountedBackoff } from './counted-backoff.js';
import type { BackoffLimits } from './failure-backoff.js';
import { memoryFailureCounts, type FailureCountsFor } from './failure-counts.js';
import type { VerificationObserver } from './observer.js';

export interface CodeEntryLimits {
  perAccount: BackoffLimits;
  perSession: BackoffLimits;
  perIp: BackoffLimits;
  /** Failures across the server within `alarmWindow` seconds that sound the alarm (never a refusal). */
  alarmFailures: number;
  alarmWindow: number;
}

export interface CodeEntryDeps {
  decisions: DeviceDecisions;
  audit: AuditLog;
  clock: Clock;
  limits: CodeEntryLimits;
  observer: VerificationObserver;
  /** Where failures are counted; in this process's memory unless given (several instances share a table). */
  counts?: FailureCountsFor;
}

/** Who is guessing: the signed-in account, the browser session (by its id's hash) and the client address. */
export interface CodeEntryAttempt {
  typed: string;
  userId: string;
  sessionKey: string;
  context: RequestOrigin;
}

export type CodeLimitedBy = 'account' | 'session' | 'ip';

export type CodeEntryOutcome =
  /** Not code-shaped: it cannot match anything, so it costs no guess. */
  | { status: 'malformed' }
  | { status: 'limited'; limitedBy: CodeLimitedBy; retryAfter: number }
  | { status: 'unknown'; code: string }
  /** The code was real, but its device gave up on it (the login was cancelled): nothing is left to approve. */
  | { status: 'cancelled' }
  | { status: 'found'; code: string; pending: PendingRequest };

/**
 * Entering a user code (RFC 8628 §3.3, with the brute-force defence of §5.1). The person is signed in before any
 * code is checked, so every guess is charged to an account as well as to its browser session and client address,
 * each slowed by its own failures only. A server-wide count of failures only raises an alarm: nobody who did not
 * fail is ever refused. The bound this puts on an attacker is worked out in docs/configuration.md.
 */
export class CodeEntry {
  private readonly account: CountedBackoff;
  private readonly session: CountedBackoff;
  private readonly ip: CountedBackoff;
  private readonly alarm: FailureAlarm;

  constructor(private readonly deps: CodeEntryDeps) {
    const now = () => deps.clock.now();
    const counts = deps.counts ?? memoryFailureCounts;
    this.account = new CountedBackoff(deps.limits.perAccount, counts('code_entry.account'), now);
    this.session = new CountedBackoff(deps.limits.perSession, counts('code_entry.session'), now);
    this.ip = new CountedBackoff(deps.limits.perIp, counts('code_entry.ip'), now);
    this.alarm = new FailureAlarm(deps.limits.alarmFailures, deps.limits.alarmWindow, now, (report) => {
      deps.observer.alarm('user_code', report);
      void deps.audit
        .record([{ type: 'verification.failure_alarm', at: now(), data: { kind: 'user_code', ...report } }])
        .catch(() => undefined);
    });
  }

  async enter(attempt: CodeEntryAttempt): Promise<CodeEntryOutcome> {
    const code = normalizeUserCode(attempt.typed);
    if (!code) return { status: 'malformed' };
    const { context, userId } = attempt;
    const entered = {
      at: this.deps.clock.now(),
      userId,
      data: { ip: context.ip, user_agent: context.userAgent, user_code_hash: hashSecret(code) },
    } satisfies Partial<AuditEventInput>;
    // Counted before the lookup, so guesses in flight at once (on this instance or another) count against each other.
    const counted = await Promise.all([this.account.attempt(userId), this.session.attempt(attempt.sessionKey), this.ip.attempt(context.ip)]);
    const withdraw = () => Promise.all(counted.map((c) => c.withdraw()));
    const limited = limitedBy(counted.map((c) => c.wait));
    if (limited) {
      // A refused guess is still guessing: it counts towards the alarm, though it cost no lookup (nor a failure).
      this.alarm.fail();
      await withdraw();
      await this.reject(entered, `rate_limited_${limited.limitedBy}`);
      return { status: 'limited', ...limited };
    }
    const pending = await this.deps.decisions.findPending(code);
    if (!pending) {
      // The failure stays counted against the account, the session and the address.
      this.alarm.fail();
      await Promise.all(counted.map((c) => c.fail()));
      // Counted like any miss (an abandoned code is as dead as a wrong one), but the person is told why.
      if (await this.deps.decisions.wasAbandoned({ userCode: code })) {
        await this.reject(entered, 'abandoned');
        return { status: 'cancelled' };
      }
      await this.reject(entered, 'no_such_code');
      return { status: 'unknown', code };
    }
    await withdraw();
    await this.deps.audit.record([
      {
        ...entered,
        type: 'user_code.entered',
        clientId: pending.client.id,
        deviceAuthorizationId: pending.authorization.id,
        parent: { type: 'device_code.requested', deviceAuthorizationId: pending.authorization.id },
      },
    ]);
    return { status: 'found', code, pending };
  }

  /** Forgets keys whose failures have aged out. */
  async sweep(): Promise<void> {
    await Promise.all([this.account.sweep(), this.session.sweep(), this.ip.sweep()]);
  }

  private async reject(entered: Omit<AuditEventInput, 'type'>, reason: string): Promise<void> {
    this.deps.observer.codeEntryFailure(reason);
    await this.deps.audit.record([{ ...entered, type: 'user_code.rejected', data: { ...entered.data, reason } }]);
  }
}

/** The limit that holds a guess back longest (the narrowest key first on a tie), from the waits in that order. */
function limitedBy([account = 0, session = 0, ip = 0]: number[]): { limitedBy: CodeLimitedBy; retryAfter: number } | undefined {
  const waits: Array<[CodeLimitedBy, number]> = [
    ['account', account],
    ['session', session],
    ['ip', ip],
  ];
  const [which, retryAfter] = waits.reduce((a, b) => (b[1] > a[1] ? b : a));
  return retryAfter > 0 ? { limitedBy: which, retryAfter } : undefined;
}
