/** What the alarm reports: how many failures the whole server saw within its window. */
export interface AlarmReport {
  failures: number;
  window: number;
}

/**
 * A server-wide count of failures that only raises an alarm (the caller turns it into a metric, an audit event
 * and a warning). It never refuses anyone: a person who did not fail is never slowed by others' failures.
 * It sounds once per window at most, so a flood of failures is one alarm, not a flood of alarms.
 */
export class FailureAlarm {
  private hits: number[] = [];
  private lastAlarm = -Infinity;

  constructor(
    private readonly threshold: number,
    private readonly window: number,
    private readonly now: () => number,
    private readonly sound: (report: AlarmReport) => void,
  ) {}

  /** Counts one failure; sounds the alarm when the count within the window reaches the threshold. */
  fail(): void {
    const now = this.now();
    this.hits = this.hits.filter((t) => t > now - this.window);
    this.hits.push(now);
    if (this.hits.length >= this.threshold && now - this.lastAlarm >= this.window) {
      this.lastAlarm = now;
      this.sound({ failures: this.hits.length, window: this.window });
    }
  }
}
