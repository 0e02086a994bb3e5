import { SlowDown } from '../oauth/errors.js';
import type { Clock } from '../shared/clock.js';
import type { DeviceAuthorizationStore } from './device-authorization.js';

export interface DeviceRequestLimitSettings {
  /** Requests per client address per window. */
  perIpRequests: number;
  window: number;
  /** Undecided, unexpired codes one address, and one client, may hold. */
  liveCodesPerIp: number;
  liveCodesPerClient: number;
}

/**
 * 429 with RFC 8628's `slow_down`. RFC 8628 defines no error for a flooded device authorization endpoint; its
 * §3.5 `slow_down` ("slow your polling") is the one code every device client already handles by waiting and
 * trying again, which is what is asked. The status is RFC 6585's 429, with Retry-After in seconds.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5
 * @see https://www.rfc-editor.org/rfc/rfc6585#section-4
 */
export class DeviceRequestsLimited extends SlowDown {
  override readonly status = 429;
  override readonly headers: Readonly<Record<string, string>>;

  constructor(retryAfter: number, description: string) {
    super(description);
    this.headers = { 'retry-after': String(Math.max(1, Math.ceil(retryAfter))) };
  }
}

/**
 * Keeps anyone from filling the server with device codes: a rate per client address, and caps on the codes one
 * address and one client may hold live. Live codes matter twice: each is a target for a guesser (the bound in
 * docs/configuration.md counts them), and each costs storage.
 */
export class DeviceRequestLimits {
  /** Per address, the times of its requests in the last window, oldest first. */
  private readonly requests = new Map<string, number[]>();

  constructor(
    private readonly settings: DeviceRequestLimitSettings,
    private readonly store: Pick<DeviceAuthorizationStore, 'countLive'>,
    private readonly clock: Clock,
  ) {}

  /**
   * Counts this request against its address; refuses it past the rate, before any client authentication. A fixed
   * budget per sliding window: every admitted request counts, and the n+1st waits until the oldest of the last n
   * ages out. One pass over the address's times, which are
   * kept in arrival order, so aged ones leave from the front.
   */
  admit(ip: string): void {
    const now = this.clock.now();
    const { perIpRequests: n, window } = this.settings;
    let times = this.requests.get(ip);
    if (!times) {
      times = [];
      this.requests.set(ip, times);
    }
    let aged = 0;
    while (aged < times.length && (times[aged] as number) <= now - window) aged++;
    if (aged > 0) times.splice(0, aged);
    if (times.length >= n) {
      const wait = Math.max(1, (times[times.length - n] as number) + window - now);
      throw new DeviceRequestsLimited(wait, 'Too many device authorization requests from this address. Wait and try again.');
    }
    times.push(now);
  }

  /**
   * Refuses a new code while this address or this client already holds too many live ones. Requests of one
   * event-loop turn are stored together (the SQLite group commit), so a burst can pass the cap by its own size;
   * the per-address rate bounds that.
   */
  async checkLive(ip: string, clientId: string): Promise<void> {
    const now = this.clock.now();
    if ((await this.store.countLive(now, { requesterIp: ip })) >= this.settings.liveCodesPerIp) {
      throw new DeviceRequestsLimited(this.settings.window, 'This address holds too many unused device codes. Finish or wait for one to expire.');
    }
    if ((await this.store.countLive(now, { clientId })) >= this.settings.liveCodesPerClient) {
      throw new DeviceRequestsLimited(this.settings.window, 'This client holds too many unused device codes. Try again later.');
    }
  }

  /** Forgets addresses whose requests have all aged out. */
  sweep(): void {
    const cutoff = this.clock.now() - this.settings.window;
    for (const [ip, times] of this.requests) if ((times[times.length - 1] ?? 0) <= cutoff) this.requests.delete(ip);
  }
}
