import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** Paths whose values never reach a log line. */
const REDACT = ['secret', '*.secret', '*.*.secret', 'headers.authorization', '*.headers.authorization', 'apiKey', '*.apiKey', 'secretsKey', '*.secretsKey', 'secretsPreviousKeys', '*.secretsPreviousKeys'];

/**
 * The process logger: JSON lines for machines, or, with `pretty` (REFLEX_PRETTY_LOGS, on by default on a
 * terminal), one readable line each: local time, level, service, message, then the fields.
 */
export function createLogger(options: { level: string; pretty?: boolean; name?: string; destination?: NodeJS.WritableStream }): Logger {
  const opts = { name: options.name ?? 'reflex', level: options.level, redact: { paths: REDACT, censor: '[redacted]' }, base: undefined };
  if (!options.pretty) return options.destination ? pino(opts, options.destination) : pino(opts);
  // Synchronous: a line is on the terminal before the process moves on (and before it exits on an error).
  const stream = pretty({
    sync: true,
    destination: options.destination ?? 1,
    colorize: !options.destination && Boolean(process.stdout.isTTY),
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'name,pid,hostname',
    messageFormat: '{if service}[{service}] {end}{msg}',
  });
  return pino(opts, stream);
}
