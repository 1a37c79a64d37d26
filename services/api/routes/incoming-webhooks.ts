import type { FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NotFoundError, ReflexError } from '../../../core/errors.ts';
import {
  createEndpoint,
  deleteEndpoint,
  endpointView,
  getEndpoint,
  getEndpointBySlug,
  IncomingRequestError,
  listEndpoints,
  listFailedRequests,
  recordFailedRequest,
  renderIncomingEvent,
  SIGNATURE_TOLERANCE_SECONDS,
  verifyRequest,
  type EndpointRecord,
  type IncomingRequest,
} from '../../../modules/webhooks/index.ts';
import { ErrorResponseSchema, pageOf } from '../../../schemas/common.ts';
import { FailedRequestSchema, WebhookEndpointInputSchema, WebhookEndpointSchema } from '../../../schemas/webhook.ts';
import { errorBody } from '../error-body.ts';
import { contextFrom, inSpan, SpanKind, traceHeaders } from '../../../infra/tracing.ts';
import type { RouteModule } from '../route-module.ts';

const FailedQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) });
const IdParams = z.object({ id: z.string().max(100) });
const SlugParams = z.object({ slug: z.string().max(200) });
const ReceivedSchema = z.object({ id: z.uuid().describe('The id of the event the request became.') });
const RECEIVER_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const MAX_MESSAGE_ID = 256;
const tags = ['webhooks'];

function flattenHeaders(headers: FastifyRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

/** Incoming webhooks: endpoint management under /api/webhooks and the public receiver at /hooks/:slug. */
export const incomingWebhookRoutes: RouteModule = async (app, { rt }) => {
  const view = (e: EndpointRecord) => endpointView(e, rt.config.publicUrl);

  app.post(
    '/api/webhooks',
    { schema: { operationId: 'createWebhookEndpoint', tags, summary: 'Create an incoming webhook endpoint', body: WebhookEndpointInputSchema, response: { 201: WebhookEndpointSchema } } },
    async (req, reply) => {
      const input = req.body;
      const verification = input.verification ?? (input.secret ? 'standard-webhooks' : 'none');
      const endpoint = await createEndpoint(rt.pg, { name: input.name, template: input.template, secret: input.secret, verification });
      return reply.code(201).send(view(endpoint));
    },
  );

  app.get(
    '/api/webhooks',
    { schema: { operationId: 'listWebhookEndpoints', tags, summary: 'List incoming webhook endpoints', response: { 200: pageOf(WebhookEndpointSchema) } } },
    async () => ({ items: (await listEndpoints(rt.pg)).map(view), next_cursor: null }),
  );

  app.get(
    '/api/webhooks/:id',
    { schema: { operationId: 'getWebhookEndpoint', tags, summary: 'An incoming webhook endpoint', params: IdParams, response: { 200: WebhookEndpointSchema } } },
    async (req) => {
      const endpoint = await getEndpoint(rt.pg, req.params.id);
      if (!endpoint) throw new NotFoundError('webhook endpoint', req.params.id);
      return view(endpoint);
    },
  );

  app.delete(
    '/api/webhooks/:id',
    { schema: { operationId: 'deleteWebhookEndpoint', tags, summary: 'Delete an incoming webhook endpoint and its failed requests', params: IdParams, response: { 204: z.undefined() } } },
    async (req, reply) => {
      if (!(await deleteEndpoint(rt.pg, req.params.id))) throw new NotFoundError('webhook endpoint', req.params.id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/webhooks/:id/failed-requests',
    {
      schema: {
        operationId: 'listWebhookFailedRequests',
        tags,
        summary: 'Requests that could not become an event, newest first',
        params: IdParams,
        querystring: FailedQuerySchema,
        response: { 200: pageOf(FailedRequestSchema) },
      },
    },
    async (req) => {
      const endpoint = await getEndpoint(rt.pg, req.params.id);
      if (!endpoint) throw new NotFoundError('webhook endpoint', req.params.id);
      return { items: await listFailedRequests(rt.pg, endpoint.id, req.query.limit), next_cursor: null };
    },
  );

  // The receiver needs the exact bytes for signatures, so inside this scope every content type
  // (JSON included) arrives as a raw Buffer; the body is decoded after verification.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    for (const method of RECEIVER_METHODS) {
      scope.withTypeProvider<ZodTypeProvider>().route({
        method,
        url: '/hooks/:slug',
        // A HEAD is a probe, not a delivery: it must not publish an event (Fastify would answer it with the GET handler).
        exposeHeadRoute: false,
        // Public: a sender proves itself with the endpoint's signature, not with the API key.
        config: { public: true },
        schema: {
          operationId: `receiveWebhook${method[0]}${method.slice(1).toLowerCase()}`,
          tags,
          summary: `The receiver of an incoming webhook endpoint (${method}): verifies the signature, renders the request into one event and publishes it`,
          description: 'Takes any body (JSON, form or text, rendered by the endpoint template).',
          params: SlugParams,
          response: { 202: ReceivedSchema, 400: ErrorResponseSchema, 401: ErrorResponseSchema, 404: ErrorResponseSchema },
        },
        handler: async (req, reply) => {
          const endpoint = await getEndpointBySlug(rt.pg, req.params.slug);
          // The same answer as for any unknown path, so probing cannot tell a slug exists.
          if (!endpoint) return reply.code(404).send(errorBody(new ReflexError('not_found', `no route ${req.method} /hooks/${req.params.slug}`)));
          const incoming: IncomingRequest = {
            method: req.method,
            headers: flattenHeaders(req.headers),
            query: { ...(req.query as Record<string, unknown>) },
            contentType: req.headers['content-type'] ?? '',
            rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
          };
          const verdict = verifyRequest(endpoint.verification, endpoint.secret, incoming.rawBody, incoming.headers);
          const refuse = (reason: string) => {
            req.log.info({ endpoint_id: endpoint.id, reason }, 'incoming webhook signature rejected');
            return reply.code(401).send(errorBody(new ReflexError('unauthorized', `signature verification failed: ${reason}`)));
          };
          if (!verdict.ok) return refuse(verdict.reason);
          // A signed request is valid for its whole tolerance window: its id is claimed before anything is
          // published, so a copy (replayed, or sent twice at once) is refused; a request that fails gives the
          // id back, so the sender's retry after a fix is taken.
          const claim = verdict.messageId === null ? null : rt.names.keys.incomingMessage(endpoint.id, verdict.messageId);
          if (claim !== null) {
            if ((verdict.messageId as string).length > MAX_MESSAGE_ID) return refuse('message id too long');
            if ((await rt.redis.set(claim, '1', 'EX', 2 * SIGNATURE_TOLERANCE_SECONDS, 'NX')) !== 'OK') {
              return refuse(`message ${verdict.messageId} was already received (a replayed request)`);
            }
          }
          try {
            const event = await renderIncomingEvent(endpoint, incoming, rt.config.maxPayloadBytes);
            await inSpan('reflex.ingest', { kind: SpanKind.SERVER, parent: contextFrom(traceHeaders(req.headers)), attributes: { 'reflex.event.id': event.id, 'reflex.incoming_webhook.endpoint_id': endpoint.id } }, () => rt.bus.publish(event));
            rt.metrics.eventsIngested.inc({ source: 'incoming_webhook' });
            return reply.code(202).send({ id: event.id });
          } catch (err) {
            if (claim !== null) await rt.redis.del(claim).catch(() => {});
            if (!(err instanceof IncomingRequestError)) throw err;
            await recordFailedRequest(rt.pg, endpoint.id, incoming, err.message);
            return reply.code(400).send(errorBody(err));
          }
        },
      });
    }
  });
};
