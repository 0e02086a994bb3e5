/**
 * What the guard logs through: the shape of pino's methods, so a pino logger can be passed as is, but no
 * dependency on any logging library. The guard never logs a token, a proof or a client secret.
 */
export interface GuardLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

const nothing = () => undefined;

/** Drops everything. */
export const silentLogger: GuardLogger = { debug: nothing, info: nothing, warn: nothing, error: nothing };

/**
 * The default: warnings and errors as one JSON line each on standard error, so failing closed is never silent
 * even when the application passed no logger.
 */
export const consoleLogger: GuardLogger = {
  debug: nothing,
  info: nothing,
  warn: (fields, message) => console.error(JSON.stringify({ level: 'warn', time: Date.now(), ...fields, msg: message })),
  error: (fields, message) => console.error(JSON.stringify({ level: 'error', time: Date.now(), ...fields, msg: message })),
};
