import { z } from 'zod';
import { ReflexError } from '../../../core/errors.ts';
import { normalizeEncodedEvents } from '../../../core/events.ts';
import { isMarkedStorable } from '../../../core/json.ts';
import { EventInputSchema } from '../../../schemas/event.ts';
import { eventsFromCloudEvents, isCloudEventRequest } from '../cloudevents.ts';
import { contextFrom, inSpan, SpanKind, traceHeaders, tracingEnabled } from '../../../infra/tracing.ts';
import { ingestLag } from '../ingest-lag.ts';
import type { RouteModule } from '../route-module.ts';
import { documentOnly } from '../schema-compilers.ts';

// The body is one event, a batch, or CloudEvents (structured, batch, binary); normalizeEncodedEvents validates
// each event against EventInputSchema, so a batch is refused whole with the path of every bad field.
const IngestBodySchema = documentOnly(z.union([EventInputSchema, z.array(EventInputSchema).max(1000)]));
const ACCEPTED =
  'send application/json, application/cloudevents+json, application/cloudevents-batch+json, or a CloudEvent in binary mode (ce-* headers)';
const IngestResponseSchema = z.object({ ids: z.array(z.uuid()) });

/** Ingest: answers 202 only after JetStream has stored every event of the request. */
export const eventIngestRoutes: RouteModule = (app, { rt }) => {
  app.post(
    '/api/events',
    {
      schema: {
        operationId: 'ingestEvents',
        tags: ['events'],
        summary: 'Emit one event or a batch (up to 1,000); also takes CloudEvents 1.0 in structured, batch and binary mode',
        body: IngestBodySchema,
        response: { 202: IngestResponseSchema },
      },
    },
    async (req, reply) => {
      // Overload pushes back (503 + Retry-After) rather than growing the backlog without bound.
      ingestLag(rt).check();
      const cloudEvents = isCloudEventRequest(req);
      if (!cloudEvents && (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase() !== 'application/json') {
        throw new ReflexError('unsupported_media_type', `content type "${req.headers['content-type'] ?? ''}" is not accepted: ${ACCEPTED}`);
      }
      const input = cloudEvents ? eventsFromCloudEvents(req) : req.body;
      const events = normalizeEncodedEvents(input, {
        maxPayloadBytes: rt.config.maxPayloadBytes,
        maxEventBytes: rt.bus.maxEventBytes,
        // A JSON body was checked whole by the body parser (services/api/app.ts) for what PostgreSQL cannot store.
        jsonChecked: isMarkedStorable(input),
      });
      // One publish per event; the bus writes what a turn of the event loop publishes in one socket write
      // (infra/nats-patches.ts), so concurrent requests share writes without a batcher of their own.
      const publish = () => Promise.all(events.map(({ event, json }) => rt.bus.publishSerialized(event.event, event.id, json)));
      if (!tracingEnabled()) await publish();
      else {
        // The root of each event's trace (or a child of the caller's, when it sent a traceparent); every
        // message published under it carries its context.
        await inSpan('reflex.ingest', { kind: SpanKind.SERVER, parent: contextFrom(traceHeaders(req.headers)), attributes: { 'reflex.events': events.length } }, async (span) => {
          span?.setAttribute('reflex.event.ids', events.slice(0, 100).map((e) => e.event.id)); // the first 100 of a batch
          await publish();
        });
      }
      rt.metrics.eventsIngested.inc({ source: cloudEvents ? 'cloudevents' : 'api' }, events.length);
      return reply.code(202).send({ ids: events.map((e) => e.event.id) });
    },
  );
};
