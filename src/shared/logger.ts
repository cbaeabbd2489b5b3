import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths that may carry credentials anywhere they appear in a log object. pino's redaction works on
 * paths, so the common shapes (axios configs/errors, fastify requests, our own objects) are listed.
 */
export const REDACT_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'req.headers.authorization',
  'config.headers.Authorization',
  'access_token',
  '*.access_token',
  'accessToken',
  '*.accessToken',
  'token',
  '*.token',
  'client_secret',
  '*.client_secret',
  'clientSecret',
  '*.clientSecret',
  'apiToken',
  '*.apiToken',
  'adminToken',
  '*.adminToken',
  'secret',
  '*.secret',
  'webhookSecret',
  '*.webhookSecret',
  'previousSecret',
  '*.previousSecret',
  'password',
  '*.password',
];

export function createLogger(
  level: LoggerOptions['level'] = 'info',
  bindings: Record<string, unknown> = {},
): Logger {
  return pino({
    level,
    base: { service: 'cxone-orchestrator', ...bindings },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/** A logger that drops everything; for tests and library defaults. */
export const silentLogger: Logger = pino({ level: 'silent' });
