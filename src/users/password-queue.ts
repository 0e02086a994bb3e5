/** Raised when the queue is full: the caller answers "busy, try again" without verifying anything. */
export class PasswordQueueFull extends Error {
  readonly code = 'password_queue_full';
}

/**
 * A bound on concurrent password verifications. argon2id takes ~19 MiB and tens of milliseconds of a core per
 * check; without a bound a flood of sign-ins takes every core and thread, and polls and token requests, which are
 * cheap, wait behind it. At most `concurrency` checks run; up to `maxWaiting` wait their turn in order; past that a
 * check is refused at once, so a flood costs the attacker, not the server.
 */
export class PasswordQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxWaiting: number,
  ) {}

  /** Runs `check` when a slot is free; throws PasswordQueueFull when too many already wait. */
  async run<T>(check: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxWaiting) throw new PasswordQueueFull('too many sign-ins are being checked');
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await check();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `running` stays at the bound while anyone waits.
      if (next) next();
      else this.running--;
    }
  }

  /** Checks running and waiting now, for tests and metrics. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
