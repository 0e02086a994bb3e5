import { pino, type Logger } from 'pino';

/**
 * Every field that could hold a secret, wherever it appears, is censored at the logger itself, so a careless
 * log call cannot leak one. Request logs carry the path only, never the query (verification_uri_complete holds
 * the user code there).
 */
export const REDACTED_PATHS = [
  'password',
  'device_code',
  'user_code',
  'access_token',
  'refresh_token',
  'client_secret',
  'csrf',
  'token',
  'authorization',
  'cookie',
  'dpop',
  '*.password',
  '*.device_code',
  '*.user_code',
  '*.access_token',
  '*.refresh_token',
  '*.client_secret',
  '*.csrf',
  '*.token',
  '*.authorization',
  '*.cookie',
  '*.dpop',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers.dpop',
];

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env['TETHER_LOG_LEVEL'] ?? 'info',
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { service: 'tether' },
    },
    options.destination as pino.DestinationStream | undefined,
  );
}
