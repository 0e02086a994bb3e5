import type { AuditEventInput, AuditLog } from '../audit/event.js';
import type { DeviceDecisions, PendingRequest } from '../device-flow/decision.js';
import type { RequestOrigin } from '../oauth/request-origin.js';
import { normalizeUserCode } from '../device-flow/user-code.js';
import { hashSecret } from '../shared/crypto.js';
import type { Clock } from '../shared/clock.js';
import { FailureAlarm } from './failure-alarm.js';
import { FailureBackoff, type BackoffLimits } from './failure-backoff.js';
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
  private readonly account: FailureBackoff;
  private readonly session: FailureBackoff;
  private readonly ip: FailureBackoff;
  private readonly alarm: FailureAlarm;

  constructor(private readonly deps: CodeEntryDeps) {
    const now = () => deps.clock.now();
    this.account = new FailureBackoff(deps.limits.perAccount, now);
    this.session = new FailureBackoff(deps.limits.perSession, now);
    this.ip = new FailureBackoff(deps.limits.perIp, now);
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
    const keys = { account: userId, session: attempt.sessionKey, ip: context.ip };
    const limited = this.limitedBy(keys);
    if (limited) {
      // A refused guess is still guessing: it counts towards the alarm, though it cost no lookup.
      this.alarm.fail();
      await this.reject(entered, `rate_limited_${limited.limitedBy}`);
      return { status: 'limited', ...limited };
    }
    const pending = await this.deps.decisions.findPending(code);
    if (!pending) {
      this.account.fail(keys.account);
      this.session.fail(keys.session);
      this.ip.fail(keys.ip);
      this.alarm.fail();
      // Counted like any miss (an abandoned code is as dead as a wrong one), but the person is told why.
      if (await this.deps.decisions.wasAbandoned({ userCode: code })) {
        await this.reject(entered, 'abandoned');
        return { status: 'cancelled' };
      }
      await this.reject(entered, 'no_such_code');
      return { status: 'unknown', code };
    }
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
  sweep(): void {
    for (const backoff of [this.account, this.session, this.ip]) backoff.sweep();
  }

  /** The first limit that holds this guess back, longest wait first named by the narrowest key. */
  private limitedBy(keys: Record<CodeLimitedBy, string>): { limitedBy: CodeLimitedBy; retryAfter: number } | undefined {
    const waits: Array<[CodeLimitedBy, number]> = [
      ['account', this.account.wait(keys.account)],
      ['session', this.session.wait(keys.session)],
      ['ip', this.ip.wait(keys.ip)],
    ];
    const [limitedBy, retryAfter] = waits.reduce((a, b) => (b[1] > a[1] ? b : a));
    return retryAfter > 0 ? { limitedBy, retryAfter } : undefined;
  }

  private async reject(entered: Omit<AuditEventInput, 'type'>, reason: string): Promise<void> {
    this.deps.observer.codeEntryFailure(reason);
    await this.deps.audit.record([{ ...entered, type: 'user_code.rejected', data: { ...entered.data, reason } }]);
  }
}
