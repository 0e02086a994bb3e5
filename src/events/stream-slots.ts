/**
 * Caps the event streams one subscriber holds open. A stream costs the server a socket, a timer and a listener
 * for as long as it lasts; without a cap one resource server's credentials (or a bug in its reconnect loop) could
 * hold thousands. A guard needs one stream per process.
 */
export class StreamSlots {
  private readonly open = new Map<string, number>();

  constructor(readonly maxPerSubscriber: number) {}

  /** Takes a slot for `subscriber`; returns its release (idempotent), or undefined when all are taken. */
  acquire(subscriber: string): (() => void) | undefined {
    const held = this.open.get(subscriber) ?? 0;
    if (held >= this.maxPerSubscriber) return undefined;
    this.open.set(subscriber, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = (this.open.get(subscriber) ?? 1) - 1;
      if (now <= 0) this.open.delete(subscriber);
      else this.open.set(subscriber, now);
    };
  }

  held(subscriber: string): number {
    return this.open.get(subscriber) ?? 0;
  }
}
