import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { normalizeEncodedEvents } from '../core/events.ts';
import { startTracing, trace, tracer, tracingFromEnv } from '../infra/tracing.ts';
import { createAutomation } from './support/automations.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { Receiver } from './support/receiver.ts';

// One event's path is one trace: the ingest request → (NATS headers) the automation evaluation → the
// action → (BullMQ job data) the webhook delivery, or the flow run and its tasks. Spans go to an in-memory
// exporter; the chain is checked by parent span ids, starting from a traceparent the client sent.

const exporter = new InMemorySpanExporter();
const tracing = startTracing({ exporters: [exporter], simple: true, serviceName: 'reflex-test' });

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

/** The one span of the trace with this name whose parent is `parent`. */
function child(spans: ReadableSpan[], name: string, parent: string | undefined): ReadableSpan {
  const found = spans.filter((s) => s.name === name && parentOf(s) === parent);
  assert.equal(found.length, 1, `one "${name}" under ${parent}; spans: ${spans.map((s) => `${s.name}<${parentOf(s)}`).join(', ')}`);
  return found[0];
}

function traceparent(): { header: string; traceId: string; spanId: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

describe('one trace per event', () => {
  let t: TestEngine;
  const receiver = new Receiver();

  before(async () => {
    await receiver.start();
    t = await startTestEngine({
      services: ['automations', 'webhooks', 'worker', 'api'],
      config: { webhookAllowHosts: ['127.0.0.1'], flowsModule: 'tests/support/test-flows.ts', workerHeartbeatSeconds: 1 },
    });
  });
  after(async () => {
    await receiver.stop();
    await t?.cleanup();
    await tracing.shutdown();
  });

  it('ingest → evaluation → action → webhook delivery (a direct first attempt)', async () => {
    await createAutomation(t, { name: 'traced', trigger: { type: 'event', expect: ['order.traced'] }, actions: [{ type: 'call-webhook', url: `${receiver.url}/traced` }] });
    const caller = traceparent();
    const res = await t.api('POST', '/api/events', { event: 'order.traced', resource: { 'reflex.resource.id': 'shop.order.1' } }, { traceparent: caller.header });
    assert.equal(res.status, 202);

    const spans = await waitFor(() => {
      const all = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === caller.traceId);
      return all.some((s) => s.name === 'reflex.webhook.deliver') ? all : null;
    }, { what: 'the delivery span' });
    const ingest = child(spans, 'reflex.ingest', caller.spanId);
    assert.deepEqual(ingest.attributes['reflex.event.ids'], res.body.ids);
    const evaluate = child(spans, 'reflex.automation.evaluate', ingest.spanContext().spanId);
    assert.equal(evaluate.attributes['reflex.event.id'], res.body.ids[0]);
    assert.equal(evaluate.attributes['reflex.automation.triggers_matched'], 1);
    const action = child(spans, 'reflex.automation.action call-webhook', evaluate.spanContext().spanId);
    // No job between them: the automations service made the first attempt itself (a retry is a job again).
    const deliver = child(spans, 'reflex.webhook.deliver', action.spanContext().spanId);
    assert.equal(deliver.attributes['reflex.webhook_delivery.direct'], true);
    assert.equal(deliver.attributes['http.response.status_code'], 204);
    assert.equal(deliver.attributes['reflex.webhook_delivery.outcome'], 'succeeded');
    assert.equal(receiver.requestsTo('/traced').length, 1);
  });

  it('keeps each request its own trace when the bus writes several requests\' publishes together', async () => {
    const sub = t.rt.nats.subscribe(`${t.config.namespace}.events.order.together`, { max: 5 });
    const spans = Array.from({ length: 5 }, (_, i) => tracer().startSpan(`request ${i}`));
    // Five requests in one turn of the event loop: the bus writes their messages to the socket together.
    const acks = spans.map((span, i) =>
      context.with(trace.setSpan(ROOT_CONTEXT, span), () =>
        Promise.all(normalizeEncodedEvents({ event: 'order.together', resource: { 'reflex.resource.id': `shop.order.t${i}` }, payload: { i } }, { maxPayloadBytes: 1 << 20 }).map(({ event, json }) => t.rt.bus.publishSerialized(event.event, event.id, json))),
      ),
    );
    await Promise.all(acks);
    const seen = new Map<number, string | undefined>();
    for await (const m of sub) seen.set(m.json<{ payload: { i: number } }>().payload.i, m.headers?.get('traceparent'));
    spans.forEach((span, i) => {
      span.end();
      assert.equal(seen.get(i)?.split('-')[2], span.spanContext().spanId, `event ${i} carries the trace of its own request`);
    });
  });

  it('ingest → evaluation → action → job → flow run → its tasks', async () => {
    const d = await t.api('POST', '/api/deployments', { name: 'traced', flow: 'fan-out', parameters: { values: [1, 2] } });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    await createAutomation(t, { name: 'traced-run', trigger: { type: 'event', expect: ['run.traced'] }, actions: [{ type: 'run-deployment', deployment_id: d.body.id }] });
    const caller = traceparent();
    const res = await t.api('POST', '/api/events', { event: 'run.traced', resource: { 'reflex.resource.id': 'x.y' } }, { traceparent: caller.header });
    assert.equal(res.status, 202);

    const spans = await waitFor(() => {
      const all = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === caller.traceId);
      return all.some((s) => s.name === 'reflex.flow.run') ? all : null;
    }, { what: 'the flow-run span', timeoutMs: 20_000 });
    const ingest = child(spans, 'reflex.ingest', caller.spanId);
    const evaluate = child(spans, 'reflex.automation.evaluate', ingest.spanContext().spanId);
    const action = child(spans, 'reflex.automation.action run-deployment', evaluate.spanContext().spanId);
    const job = child(spans, 'reflex.job.enqueue work-pool-default', action.spanContext().spanId);
    const run = child(spans, 'reflex.flow.run', job.spanContext().spanId);
    assert.equal(run.attributes['reflex.flow.name'], 'fan-out');
    assert.equal(run.attributes['reflex.flow_run.outcome'], 'completed');
    // fan-out calls double twice and add three times, each a span under the run.
    const tasks = spans.filter((s) => parentOf(s) === run.spanContext().spanId && s.name.startsWith('reflex.task '));
    assert.deepEqual(tasks.map((s) => s.name).sort(), ['reflex.task add', 'reflex.task add', 'reflex.task add', 'reflex.task double', 'reflex.task double']);
  });
});

describe('switched on by the standard variables only', () => {
  it('is off by default and with OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none', () => {
    assert.equal(tracingFromEnv({}), null);
    assert.equal(tracingFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }), null);
    assert.equal(tracingFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }), null);
  });
  it('is on with an OTLP endpoint or a named exporter, and refuses what it cannot send', () => {
    assert.equal(tracingFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })?.exporters.length, 1);
    assert.equal(tracingFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces', OTEL_SERVICE_NAME: 'shop' })?.serviceName, 'shop');
    assert.equal(tracingFromEnv({ OTEL_TRACES_EXPORTER: 'console,otlp' })?.exporters.length, 2);
    assert.throws(() => tracingFromEnv({ OTEL_TRACES_EXPORTER: 'zipkin' }), /OTEL_TRACES_EXPORTER: unknown exporter "zipkin"/);
    assert.throws(() => tracingFromEnv({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), /OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not supported/);
  });
});
