import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths whose values never reach a log line. */
const REDACT = ['secret', '*.secret', '*.*.secret', 'headers.authorization', '*.headers.authorization', 'apiKey', '*.apiKey'];

export function createLogger(options: { level: string; pretty?: boolean; name?: string }): Logger {
  return pino({
    name: options.name ?? 'reflex',
    level: options.level,
    redact: { paths: REDACT, censor: '[redacted]' },
    base: undefined,
  });
}
