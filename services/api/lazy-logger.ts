import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Logger } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * A request's logger (`req.log`, with the request id bound) that makes its pino child only when the
 * request logs something. Fastify makes one child per request, and a pino child (bindings serialised,
 * redaction and serializers carried over) cost about 5-10 µs, most of what a request's logging cost: nearly
 * every request logs nothing (request logging is off), so that work was spent for no line.
 */
export class LazyRequestLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindingsOf: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  /** Whether the pino child was made (the request logged). */
  get materialised(): boolean {
    return this.made !== undefined;
  }

  private get real(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindingsOf, this.options));
  }

  get level(): string {
    return this.made?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.real.level = level;
  }

  fatal(...args: unknown[]): void {
    this.call('fatal', args);
  }
  error(...args: unknown[]): void {
    this.call('error', args);
  }
  warn(...args: unknown[]): void {
    this.call('warn', args);
  }
  info(...args: unknown[]): void {
    this.call('info', args);
  }
  debug(...args: unknown[]): void {
    this.call('debug', args);
  }
  trace(...args: unknown[]): void {
    this.call('trace', args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real.child(bindings, options);
  }

  private call(level: Exclude<Level, 'silent'>, args: unknown[]): void {
    // A level the logger drops makes no child either (a child given a level of its own decides itself).
    const parent = this.parent as Partial<Pick<Logger, 'isLevelEnabled'>>;
    if (!this.made && this.options.level === undefined && parent.isLevelEnabled && !parent.isLevelEnabled(level)) return;
    (this.real[level] as (...a: unknown[]) => void)(...args);
  }
}

/** Fastify's `childLoggerFactory` making LazyRequestLogger children. */
export function lazyChildLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyRequestLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}
