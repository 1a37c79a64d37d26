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
  const gate: { absorb?: LogGate } = {};
  const opts = {
    name: options.name ?? 'reflex',
    level: options.level,
    redact: { paths: REDACT, censor: '[redacted]' },
    base: undefined,
    // Errors with their own fields (`code`) and the cause chain as nested objects, not flattened into text.
    serializers: { err: pino.stdSerializers.errWithCause },
    hooks: {
      // A warning or error carrying an `err` that the gate absorbs (an outage already reported) is not written.
      logMethod(this: Logger, args: Parameters<Logger['info']>, method: (...a: unknown[]) => void, level: number) {
        const first = args[0] as { err?: unknown } | null;
        if (level >= 40 && gate.absorb && first && typeof first === 'object' && 'err' in first && first.err && gate.absorb(first.err)) return;
        method.apply(this, args as unknown[]);
      },
    },
  };
  if (!options.pretty) return withGate(options.destination ? pino(opts, options.destination) : pino(opts), gate);
  // Synchronous: a line is on the terminal before the process moves on (and before it exits on an error).
  const stream = pretty({
    sync: true,
    destination: options.destination ?? 1,
    colorize: !options.destination && Boolean(process.stdout.isTTY),
    translateTime: 'SYS:HH:MM:ss.l',
    // The ids a person looks for sit on the line itself; other fields follow as one JSON object.
    ignore: 'name,pid,hostname,service,flow_run_id,automation_id,event_id',
    messageFormat: '{if service}[{service}] {end}{msg}{if flow_run_id}  run={flow_run_id}{end}{if automation_id}  automation={automation_id}{end}{if event_id}  event={event_id}{end}',
    singleLine: true,
  });
  return withGate(pino(opts, stream), gate);
}

/** Decides whether a logged error is already accounted for (true: drop the line). */
export type LogGate = (err: unknown) => boolean;

const GATE = Symbol('reflex.logGate');

function withGate(logger: Logger, gate: { absorb?: LogGate }): Logger {
  Object.defineProperty(logger, GATE, { value: gate });
  return logger;
}

/**
 * Installs the gate of a logger made by createLogger (its children share it): infra/outages.ts uses it
 * so that an outage is logged once, not by every retry of every worker.
 */
export function setLogGate(logger: Logger, absorb: LogGate | undefined): void {
  const gate = (logger as unknown as Record<symbol, { absorb?: LogGate } | undefined>)[GATE];
  if (gate) gate.absorb = absorb;
}
