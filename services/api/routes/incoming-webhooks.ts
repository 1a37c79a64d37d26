import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { NotFoundError } from '../../../core/errors.ts';
import { pageOf } from '../../../schemas/common.ts';
import { FailedRequestSchema, WebhookEndpointInputSchema, WebhookEndpointSchema } from '../../../schemas/webhook.ts';
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
  type IncomingRequest,
} from '../../../modules/webhooks/incoming.ts';
import { verifyRequest } from '../../../modules/webhooks/incoming-verify.ts';
import type { RouteModule } from '../app.ts';
import { parseInput } from '../validate.ts';

const FailedQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) });

const RECEIVER_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

function flattenHeaders(headers: FastifyRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

/** Incoming webhooks: endpoint management under /api/webhooks and the public receiver at /hooks/:slug. */
export const incomingWebhookRoutes: RouteModule = async (app, { rt, docs }) => {
  const view = (e: Parameters<typeof endpointView>[0]) => endpointView(e, rt.config.publicUrl);

  docs.add({ method: 'post', path: '/api/webhooks', summary: 'Create an incoming webhook endpoint', tags: ['webhooks'], body: WebhookEndpointInputSchema, status: 201, response: WebhookEndpointSchema });
  app.post('/api/webhooks', async (req, reply) => {
    const input = parseInput(WebhookEndpointInputSchema, req.body);
    const verification = input.verification ?? (input.secret ? 'standard-webhooks' : 'none');
    const endpoint = await createEndpoint(rt.pg, { name: input.name, template: input.template, secret: input.secret, verification });
    return reply.code(201).send(view(endpoint));
  });

  docs.add({ method: 'get', path: '/api/webhooks', summary: 'List incoming webhook endpoints', tags: ['webhooks'], response: pageOf(WebhookEndpointSchema) });
  app.get('/api/webhooks', async () => ({ items: (await listEndpoints(rt.pg)).map(view), next_cursor: null }));

  docs.add({ method: 'get', path: '/api/webhooks/{id}', summary: 'An incoming webhook endpoint', tags: ['webhooks'], response: WebhookEndpointSchema });
  app.get<{ Params: { id: string } }>('/api/webhooks/:id', async (req) => {
    const endpoint = await getEndpoint(rt.pg, req.params.id);
    if (!endpoint) throw new NotFoundError('webhook endpoint', req.params.id);
    return view(endpoint);
  });

  docs.add({ method: 'delete', path: '/api/webhooks/{id}', summary: 'Delete an incoming webhook endpoint and its failed requests', tags: ['webhooks'], status: 204 });
  app.delete<{ Params: { id: string } }>('/api/webhooks/:id', async (req, reply) => {
    if (!(await deleteEndpoint(rt.pg, req.params.id))) throw new NotFoundError('webhook endpoint', req.params.id);
    return reply.code(204).send();
  });

  docs.add({ method: 'get', path: '/api/webhooks/{id}/failed-requests', summary: 'Requests that could not become an event, newest first', tags: ['webhooks'], query: FailedQuerySchema, response: pageOf(FailedRequestSchema) });
  app.get<{ Params: { id: string } }>('/api/webhooks/:id/failed-requests', async (req) => {
    const q = parseInput(FailedQuerySchema, req.query, 'query');
    const endpoint = await getEndpoint(rt.pg, req.params.id);
    if (!endpoint) throw new NotFoundError('webhook endpoint', req.params.id);
    return { items: await listFailedRequests(rt.pg, endpoint.id, q.limit), next_cursor: null };
  });

  // The receiver needs the exact bytes for signatures, so inside this scope every content type
  // (JSON included) arrives as a raw Buffer; the body is decoded after verification.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.route<{ Params: { slug: string } }>({
      method: [...RECEIVER_METHODS],
      url: '/hooks/:slug',
      // Public: a sender proves itself with the endpoint's signature, not with the API key.
      config: { public: true },
      handler: async (req, reply) => {
        const endpoint = await getEndpointBySlug(rt.pg, req.params.slug);
        // The same answer as for any unknown path, so probing cannot tell a slug exists.
        if (!endpoint) return reply.code(404).send({ error: { code: 'not_found', message: `no route ${req.method} /hooks/${req.params.slug}`, issues: [] } });
        const incoming: IncomingRequest = {
          method: req.method,
          headers: flattenHeaders(req.headers),
          query: { ...(req.query as Record<string, unknown>) },
          contentType: req.headers['content-type'] ?? '',
          rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        };
        const problem = verifyRequest(endpoint.verification, endpoint.secret, incoming.rawBody, incoming.headers);
        if (problem) {
          req.log.info({ endpoint_id: endpoint.id, reason: problem }, 'incoming webhook signature rejected');
          return reply.code(401).send({ error: { code: 'unauthorized', message: `signature verification failed: ${problem}`, issues: [] } });
        }
        try {
          const event = await renderIncomingEvent(endpoint, incoming, rt.config.maxPayloadBytes);
          await rt.bus.publish(event);
          return reply.code(202).send({ id: event.id });
        } catch (err) {
          if (!(err instanceof IncomingRequestError)) throw err;
          await recordFailedRequest(rt.pg, endpoint.id, incoming, err.message);
          return reply.code(400).send({ error: err.toJSON() });
        }
      },
    });
  });
};
