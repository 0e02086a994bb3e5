import type { z } from 'zod';
import { InvalidRequest } from '../oauth/errors.js';

/** A JSON request body checked against `schema`; the first problem, named by its path, is `invalid_request`. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidRequest(`${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
