/**
 * What domain code logs through: the shape of pino's methods (fields first, then a message), so the composition
 * root passes its pino logger as is, while no domain folder depends on a logging library. Never log a token, a
 * code or a secret through it; pino's redaction at the logger is the second line, not the first.
 */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}
