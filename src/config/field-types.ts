import { z } from 'zod';
import { parseDuration } from '../shared/duration.js';

// Field types several parts of the configuration share.

/** A duration field: "90s", "5m", "12h", "1d" or a number of seconds, parsed to seconds. */
export const duration = (description: string) =>
  z
    .union([z.string(), z.number()])
    .transform((value, ctx) => {
      const seconds = parseDuration(value);
      if (seconds === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as "90s", "5m" or "12h" (${description})` });
        return z.NEVER;
      }
      return seconds;
    })
    .describe(description);

export const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'a scope is printable ASCII without spaces or quotes');
export const absoluteUri = z.string().url('expected an absolute URI');
