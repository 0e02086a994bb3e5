/**
 * What the device_code grant needs to pace polls: the in-process PollPacer for one instance, or a store shared by
 * every instance on one database, so polls spread over several instances are paced as one.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5
 */
export interface PollPacing {
  /** Records a poll; throws SlowDown (and lengthens the interval) when it came too soon after the last one. */
  poll(authorizationId: string, interval: number, expiresAt: number): void | Promise<void>;
  /** Forgets a code that was redeemed. */
  forget(authorizationId: string): void | Promise<void>;
  /** Drops state of codes that have expired. */
  sweep(): void | Promise<unknown>;
}
