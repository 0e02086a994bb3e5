import { PolicyInputError } from './errors.js';

/** The hour (0-23) and ISO weekday (1 = Monday ... 7 = Sunday) policy sees for a moment. */
export interface LocalTime {
  hour: number;
  weekday: number;
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/**
 * Turns epoch seconds into the hour and weekday of one time zone. Policies such as "only during office hours" are
 * written in the organisation's time, not UTC, so the zone is configuration; UTC takes a fast path because the
 * guard computes this on every request.
 */
export function localTimeFunction(timeZone = 'UTC'): (epochSeconds: number) => LocalTime {
  if (timeZone === 'UTC') {
    return (s) => {
      const date = new Date(s * 1000);
      return { hour: date.getUTCHours(), weekday: date.getUTCDay() || 7 };
    };
  }
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', { timeZone, hour: 'numeric', hourCycle: 'h23', weekday: 'short' });
  } catch {
    throw new PolicyInputError('timeZone', `"${timeZone}" is not an IANA time zone such as "Europe/Berlin"`);
  }
  return (s) => {
    let hour = 0;
    let weekday = 1;
    for (const part of format.formatToParts(new Date(s * 1000))) {
      if (part.type === 'hour') hour = Number(part.value) % 24;
      else if (part.type === 'weekday') weekday = WEEKDAYS[part.value] ?? 1;
    }
    return { hour, weekday };
  };
}
