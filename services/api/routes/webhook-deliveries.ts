import { z } from 'zod';
import { NotFoundError, ValidationError } from '../../../core/errors.ts';
import { pageOf } from '../../../schemas/common.ts';
import { DELIVERY_STATUSES, WebhookDeliverySchema } from '../../../schemas/webhook.ts';
import { enqueueDelivery } from '../../../modules/webhooks/enqueue.ts';
import { getDelivery, listDeliveries, startReplay } from '../../../modules/webhooks/deliveries.ts';
import type { RouteModule } from '../app.ts';
import { parseInput } from '../validate.ts';

const ListQuerySchema = z.object({
  automation_id: z.string().optional(),
  status: z.enum(DELIVERY_STATUSES).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().optional(),
});

const ReplayResponseSchema = z.object({ id: z.string(), series: z.number().int(), status: z.literal('pending') });

function decodeCursor(cursor: string): { created: string; id: string } {
  try {
    const [created, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    if (typeof created === 'string' && typeof id === 'string') return { created, id };
  } catch {
    /* fall through */
  }
  throw new ValidationError('invalid cursor', [{ path: 'cursor', message: 'use next_cursor from the previous page' }]);
}

/** The delivery log: every outgoing webhook with its attempts, and replay. Secrets are never returned. */
export const webhookDeliveryRoutes: RouteModule = (app, { rt, docs }) => {
  docs.add({ method: 'get', path: '/api/webhook-deliveries', summary: 'List webhook deliveries, newest first', tags: ['webhooks'], query: ListQuerySchema, response: pageOf(WebhookDeliverySchema) });
  app.get('/api/webhook-deliveries', async (req) => {
    const q = parseInput(ListQuerySchema, req.query, 'query');
    const rows = await listDeliveries(rt.pg, { ...q, limit: q.limit + 1, cursor: q.cursor ? decodeCursor(q.cursor) : undefined });
    const items = rows.slice(0, q.limit);
    const last = items[items.length - 1];
    const next_cursor = rows.length > q.limit && last ? Buffer.from(JSON.stringify([last.created, last.id])).toString('base64url') : null;
    return { items, next_cursor };
  });

  docs.add({ method: 'get', path: '/api/webhook-deliveries/{id}', summary: 'A delivery with every attempt', tags: ['webhooks'], response: WebhookDeliverySchema });
  app.get<{ Params: { id: string } }>('/api/webhook-deliveries/:id', async (req) => {
    const delivery = await getDelivery(rt.pg, req.params.id);
    if (!delivery) throw new NotFoundError('webhook delivery', req.params.id);
    return delivery;
  });

  docs.add({ method: 'post', path: '/api/webhook-deliveries/{id}/replay', summary: 'Send a delivery again: same body, new attempt series and signature timestamp', tags: ['webhooks'], status: 202, response: ReplayResponseSchema });
  app.post<{ Params: { id: string } }>('/api/webhook-deliveries/:id/replay', async (req, reply) => {
    const replay = await startReplay(rt.pg, req.params.id);
    if (!replay) throw new NotFoundError('webhook delivery', req.params.id);
    await enqueueDelivery(rt, replay.job, { series: replay.series });
    return reply.code(202).send({ id: req.params.id, series: replay.series, status: 'pending' });
  });
};
