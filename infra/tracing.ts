import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ConfigError } from '../core/errors.ts';

/**
 * OpenTelemetry traces (docs/operations.md). Off by default: then nothing here is called on the hot path
 * but `tracingEnabled()`, a boolean read, so no span, header or field is made. On, one event's path is one
 * trace: the ingest request's span → the NATS message headers (`traceparent`) → the automation evaluation
 * → the BullMQ job (a `traceparent` field in its data) → the webhook delivery or the flow run and its tasks.
 */

let enabled = false;
let provider: BasicTracerProvider | undefined;

export const TRACER_NAME = 'reflex';

/** Whether traces are recorded in this process (cheap: read on every publish and job). */
export function tracingEnabled(): boolean {
  return enabled;
}

export function tracer() {
  return trace.getTracer(TRACER_NAME);
}

export interface TracingOptions {
  exporters: SpanExporter[];
  /** `service.name` of the resource (OTEL_SERVICE_NAME, default `reflex`). */
  serviceName?: string;
  /** Export each span as it ends (tests) instead of in batches (OTEL_BSP_* tune the batches). */
  simple?: boolean;
}

/** Installs the global tracer provider, context manager and W3C propagator. Once per process. */
export function startTracing(options: TracingOptions): { shutdown(): Promise<void> } {
  if (provider) throw new Error('tracing already started in this process');
  const spanProcessors: SpanProcessor[] = options.exporters.map((e) => (options.simple ? new SimpleSpanProcessor(e) : new BatchSpanProcessor(e)));
  provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': options.serviceName ?? 'reflex' }), spanProcessors });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  enabled = true;
  const p = provider;
  return {
    async shutdown() {
      enabled = false;
      await p.shutdown();
    },
  };
}

/**
 * The exporters the standard variables ask for, or null when traces stay off. On when
 * `OTEL_TRACES_EXPORTER` names exporters (`otlp`, `console`, comma-separated), or, unset, when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (then `otlp`). Off with
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. The OTLP exporter sends HTTP/JSON and reads the
 * other `OTEL_EXPORTER_OTLP_*` variables (endpoint, headers, timeout) itself.
 */
export function tracingFromEnv(env: NodeJS.ProcessEnv): TracingOptions | null {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return null;
  const named = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const wanted = named.length > 0 ? named : env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? ['otlp'] : [];
  if (wanted.length === 0 || wanted.includes('none')) return null;
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/json').trim();
  const exporters = wanted.map((name): SpanExporter => {
    if (name === 'console') return new ConsoleSpanExporter();
    if (name !== 'otlp') throw new ConfigError(`invalid environment: OTEL_TRACES_EXPORTER: unknown exporter "${name}" (use otlp, console or none)`);
    if (protocol !== 'http/json') {
      throw new ConfigError(`invalid environment: OTEL_EXPORTER_OTLP_PROTOCOL: "${protocol}" is not supported; Reflex sends OTLP as http/json (collectors take it on port 4318)`);
    }
    return new OTLPTraceExporter();
  });
  return { exporters, serviceName: env.OTEL_SERVICE_NAME || 'reflex' };
}

/** The `traceparent` of the active span (or of `ctx`), when tracing and inside a sampled span. */
export function currentTraceparent(ctx: Context = context.active()): string | undefined {
  if (!enabled || !trace.getSpan(ctx)) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent;
}

/** A context whose parent is the remote span of a `traceparent` (ROOT_CONTEXT when absent or invalid). */
export function contextFrom(carrier: { traceparent?: string | undefined; tracestate?: string | undefined } | undefined): Context {
  if (!carrier?.traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** The W3C trace headers of an HTTP request (the first value of each). */
export function traceHeaders(h: Record<string, string | string[] | undefined>): { traceparent?: string; tracestate?: string } {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  return { traceparent: one(h.traceparent), tracestate: one(h.tracestate) };
}

/**
 * Runs `fn` in a new span (child of `parent`, default the active context), ending it when `fn` settles and
 * marking it as an error when it throws. Without tracing, `fn` runs as is.
 */
export async function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; parent?: Context; expected?: (err: unknown) => boolean },
  fn: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!enabled) return fn(undefined);
  const parent = options.parent ?? context.active();
  const span = tracer().startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    // A thrown value that is control flow (BullMQ's DelayedError: a job put back for later) is no error.
    if (options.expected?.(err)) throw err;
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    span.end();
  }
}

export { SpanKind, trace };
export type { Context, Span };
