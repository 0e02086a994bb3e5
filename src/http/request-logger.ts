import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level } from 'pino';

/**
 * Fastify's per-request logger (`request.log`), made only when a request actually logs. Fastify would build a
 * pino child (bindings with the request id, redaction paths copied) for every request, though a hot route that
 * answers normally never writes a line: that child cost as much as the form parser. Lines that are written
 * still carry the request's bindings (`reqId`); a level that is off creates nothing at all.
 */
export function lazyRequestLogger(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  let child: FastifyBaseLogger | undefined;
  // pino's loggers answer isLevelEnabled; any other logger is asked by making the child.
  const levels = parent as FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean };
  const enabled = (level: string) => (typeof levels.isLevelEnabled === 'function' ? levels.isLevelEnabled(level) : true);
  const real = () => (child ??= parent.child(bindings, options));
  const at =
    (level: Level) =>
    (...args: unknown[]) => {
      if (child === undefined && !enabled(level)) return;
      (real()[level] as (...a: unknown[]) => void)(...args);
    };
  return {
    get level() {
      return child?.level ?? parent.level;
    },
    set level(value: string) {
      real().level = value;
    },
    fatal: at('fatal'),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    trace: at('trace'),
    silent: () => undefined,
    child: (b: Bindings, o?: ChildLoggerOptions) => real().child(b, o),
    isLevelEnabled: (level: string) => enabled(level),
  } as FastifyBaseLogger;
}
