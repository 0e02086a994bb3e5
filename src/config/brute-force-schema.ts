import { z } from 'zod';
import { duration } from './field-types.js';

interface BackoffDefaults {
  free_failures: number;
  base_delay: number;
  max_delay: number;
  max_failures?: number;
  window: number;
}

/** Growing delays for one kind of key (an account, a browser session, an address); see FailureBackoff. */
const backoffSchema = (what: string, d: BackoffDefaults) =>
  z
    .object({
      free_failures: z.number().int().min(0).default(d.free_failures).describe(`${what}: failures allowed before any delay`),
      base_delay: duration('delay after the first failure past the free ones')
        .default(d.base_delay)
        .describe(`${what}: wait after the first failure past the free ones; it doubles with each further failure`),
      max_delay: duration('longest delay').default(d.max_delay).describe(`${what}: longest wait between two attempts`),
      max_failures: (d.max_failures === undefined
        ? z.number().int().min(1).optional()
        : z.number().int().min(1).default(d.max_failures)
      ).describe(`${what}: failures per window after which attempts are refused until the oldest ages out${d.max_failures === undefined ? ' (unset: never refused, only slowed)' : ''}`),
      window: duration('window failures count over').default(d.window).describe(`${what}: how long a failure counts`),
    })
    .strict()
    .prefault({})
    .describe(`Growing delays for ${what}.`);

const alarmFields = (what: string, failures: number) => ({
  alarm_failures: z
    .number()
    .int()
    .min(1)
    .default(failures)
    .describe(`${what} across the whole server within alarm_window that raise an alarm (metric, audit event, warning); never a refusal`),
  alarm_window: duration('alarm window').default(300).describe('window the server-wide alarm counts over'),
});

export const bruteForceSchema = z
  .object({
    code_entry: z
      .object({
        per_account: backoffSchema('wrong user codes per signed-in account', { free_failures: 3, base_delay: 2, max_delay: 300, max_failures: 10, window: 3600 }),
        per_session: backoffSchema('wrong user codes per browser session', { free_failures: 3, base_delay: 2, max_delay: 300, max_failures: 10, window: 3600 }),
        per_ip: backoffSchema('wrong user codes per client address', { free_failures: 5, base_delay: 2, max_delay: 300, max_failures: 30, window: 3600 }),
        ...alarmFields('Wrong user codes', 100),
      })
      .strict()
      .prefault({})
      .describe('Guessing user codes: the person signs in first, then each limit slows only the key that failed.'),
    sign_in: z
      .object({
        per_account: backoffSchema('wrong passwords per account (slowed, never locked)', { free_failures: 5, base_delay: 1, max_delay: 30, window: 3600 }),
        per_ip: backoffSchema('wrong passwords per client address (slowed, then blocked)', { free_failures: 10, base_delay: 1, max_delay: 300, max_failures: 50, window: 3600 }),
        concurrent_checks: z.number().int().min(1).default(2).describe('password (argon2id) checks that may run at once'),
        queue_length: z.number().int().min(0).default(32).describe('sign-ins that may wait for a check; past it, "busy, try again" (503)'),
        ...alarmFields('Wrong passwords', 200),
      })
      .strict()
      .prefault({})
      .describe('Guessing passwords on the verification page.'),
    device_authorization: z
      .object({
        per_ip_requests: z.number().int().min(1).default(30).describe('device authorization requests per client address per window (429 slow_down past it)'),
        window: duration('device authorization window').default(60).describe('window per_ip_requests counts over'),
        live_codes_per_ip: z.number().int().min(1).default(20).describe('undecided, unexpired device codes one client address may hold'),
        live_codes_per_client: z.number().int().min(1).default(10000).describe('undecided, unexpired device codes one client may hold'),
      })
      .strict()
      .prefault({})
      .describe('Requesting device codes.'),
  })
  .strict();
