import type { JsMsg } from '@nats-io/jetstream';
import { contextFrom, SpanKind, trace, tracer, tracingEnabled, type Context, type Span } from '../../infra/tracing.ts';
import type { Op } from '../../modules/automations/index.ts';
import type { ReflexEvent } from '../../schemas/event.ts';

/**
 * The evaluation spans of one consumer batch: one per event whose message carries a `traceparent` (its
 * publisher's span), so the event's trace continues through its evaluation into the firings' actions.
 * Undefined when tracing is off or no message of the batch is traced: the batch pays nothing.
 */
export function evaluationSpans(msgs: JsMsg[], events: ReflexEvent[], ops: Op[]): { contextOf(eventId: string): Context | undefined; end(): void } | undefined {
  if (!tracingEnabled()) return undefined;
  const spans = new Map<string, { span: Span; ctx: Context }>();
  msgs.forEach((m, i) => {
    const traceparent = m.headers?.get('traceparent');
    if (!traceparent) return;
    const event = events[i];
    const parent = contextFrom({ traceparent, tracestate: m.headers?.get('tracestate') || undefined });
    const span = tracer().startSpan(
      'reflex.automation.evaluate',
      { kind: SpanKind.CONSUMER, attributes: { 'reflex.event.id': event.id, 'reflex.event.name': event.event, 'messaging.system': 'nats', 'messaging.message.id': event.id } },
      parent,
    );
    spans.set(event.id, { span, ctx: trace.setSpan(parent, span) });
  });
  if (spans.size === 0) return undefined;
  const matched = new Map<string, number>();
  for (const op of ops) if (op.kind === 'event') matched.set(op.event.id, (matched.get(op.event.id) ?? 0) + 1);
  for (const [id, s] of spans) s.span.setAttribute('reflex.automation.triggers_matched', matched.get(id) ?? 0);
  return {
    contextOf: (eventId) => spans.get(eventId)?.ctx,
    end: () => {
      for (const s of spans.values()) s.span.end();
    },
  };
}
