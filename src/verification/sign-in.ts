import type { AuditLog } from '../audit/event.js';
import type { RequestOrigin } from '../oauth/request-origin.js';
import type { Clock } from '../shared/clock.js';
import { canonicalUserId } from '../users/canonical-id.js';
import { PasswordQueueFull, type PasswordQueue } from '../users/password-queue.js';
import type { User, UserDirectory } from '../users/user.js';
import { FailureAlarm } from './failure-alarm.js';
import { CountedBackoff } from './counted-backoff.js';
import type { BackoffLimits } from './failure-backoff.js';
import { memoryFailureCounts, type FailureCountsFor } from './failure-counts.js';
import type { VerificationObserver } from './observer.js';

export interface SignInLimits {
  /** Slows an account after wrong passwords; never blocks it, so an attacker cannot lock its owner out. */
  perAccount: BackoffLimits;
  /** Slows, then blocks, the address the wrong passwords come from. */
  perIp: BackoffLimits;
  alarmFailures: number;
  alarmWindow: number;
}

export interface SignInDeps {
  users: UserDirectory;
  audit: AuditLog;
  clock: Clock;
  queue: PasswordQueue;
  limits: SignInLimits;
  observer: VerificationObserver;
  /** Where failures are counted; in this process's memory unless given (several instances share a table). */
  counts?: FailureCountsFor;
}

export type SignInOutcome =
  | { status: 'signed_in'; user: User }
  | { status: 'wrong' }
  | { status: 'limited'; limitedBy: 'account' | 'ip'; retryAfter: number }
  /** Too many sign-ins are being checked right now; nothing was verified. */
  | { status: 'busy'; retryAfter: number };

/** Longest username and password looked at; longer input is cut, never hashed whole. */
const MAX_USERNAME = 64;
const MAX_PASSWORD = 1024;

/**
 * Password sign-in on the verification page. Throttles by account (growing delays, never a lock) and by client
 * address (growing delays, then a block for the window), audits every failure and every refusal, and runs the
 * argon2 check through a bounded queue so a flood of sign-ins cannot starve the rest of the server. The caller
 * checks CSRF and the request seal first: nothing here runs for a forged form.
 */
export class SignIn {
  private readonly account: CountedBackoff;
  private readonly ip: CountedBackoff;
  private readonly alarm: FailureAlarm;

  constructor(private readonly deps: SignInDeps) {
    const now = () => deps.clock.now();
    const counts = deps.counts ?? memoryFailureCounts;
    this.account = new CountedBackoff(deps.limits.perAccount, counts('sign_in.account'), now);
    this.ip = new CountedBackoff(deps.limits.perIp, counts('sign_in.ip'), now);
    this.alarm = new FailureAlarm(deps.limits.alarmFailures, deps.limits.alarmWindow, now, (report) => {
      deps.observer.alarm('sign_in', report);
      void deps.audit
        .record([{ type: 'verification.failure_alarm', at: now(), data: { kind: 'sign_in', ...report } }])
        .catch(() => undefined);
    });
  }

  async signIn(attempt: { username: string; password: string; context: RequestOrigin }): Promise<SignInOutcome> {
    const username = attempt.username.slice(0, MAX_USERNAME);
    const accountKey = canonicalUserId(username);
    const { context } = attempt;
    const base = { at: this.deps.clock.now(), data: { ip: context.ip, user_agent: context.userAgent, username: accountKey } };
    // Counted before the password check, so sign-ins in flight at once (on this instance or another) count against
    // each other: a burst cannot have more passwords checked than the limits allow one by one.
    const [ip, account] = await Promise.all([this.ip.attempt(context.ip), this.account.attempt(accountKey)]);
    const withdraw = () => Promise.all([ip.withdraw(), account.withdraw()]);
    // The source first: a blocked address learns nothing about the account, and costs no argon2 work.
    const ipWait = ip.wait;
    const accountWait = ipWait > 0 ? 0 : account.wait;
    if (ipWait > 0 || accountWait > 0) {
      const limitedBy = ipWait > 0 ? 'ip' : 'account';
      this.alarm.fail();
      await withdraw();
      this.deps.observer.signInFailure(`rate_limited_${limitedBy}`);
      await this.deps.audit.record([{ ...base, type: 'user.sign_in_failed', data: { ...base.data, reason: `rate_limited_${limitedBy}` } }]);
      return { status: 'limited', limitedBy, retryAfter: Math.max(ipWait, accountWait) };
    }
    let user: User | undefined;
    try {
      user = await this.deps.queue.run(() => this.deps.users.authenticate(username, attempt.password.slice(0, MAX_PASSWORD)));
    } catch (error) {
      // Nothing was verified: no failure to count.
      await withdraw();
      if (!(error instanceof PasswordQueueFull)) throw error;
      this.deps.observer.signInFailure('busy');
      return { status: 'busy', retryAfter: 1 };
    }
    if (!user) {
      // The failure stays counted against the account and the address.
      this.alarm.fail();
      await Promise.all([ip.fail(), account.fail()]);
      this.deps.observer.signInFailure('wrong_password');
      await this.deps.audit.record([{ ...base, type: 'user.sign_in_failed', data: { ...base.data, reason: 'wrong_password' } }]);
      return { status: 'wrong' };
    }
    // The right password ends the account's slow-down (only its owner knows it); the address keeps its count, or
    // an attacker could clear it by signing in to an account of their own between guesses. This attempt itself was
    // no failure.
    await Promise.all([this.account.clear(accountKey), ip.withdraw()]);
    await this.deps.audit.record([
      { type: 'user.signed_in', at: this.deps.clock.now(), userId: user.id, data: { ip: context.ip, user_agent: context.userAgent, method: 'pwd' } },
    ]);
    return { status: 'signed_in', user };
  }

  async sweep(): Promise<void> {
    await Promise.all([this.account.sweep(), this.ip.sweep()]);
  }
}
