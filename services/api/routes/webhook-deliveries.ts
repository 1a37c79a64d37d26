import { z } from 'zod';
import { NotFoundError, ValidationError } from '../../../core/errors.ts';
import { getDelivery, listDeliveries, startReplay } from '../../../modules/webhooks/index.ts';
import { pageOf } from '../../../schemas/common.ts';
import { DELIVERY_STATUSES, WebhookDeliverySchema } from '../../../schemas/webhook.ts';
import type { RouteModule } from '../route-module.ts';

const ListQuerySchema = z.object({
  automation_id: z.string().max(100).optional(),
  status: z.enum(DELIVERY_STATUSES).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(300).optional(),
});
const IdParams = z.object({ id: z.string().min(1).max(200) });
const ReplayResponseSchema = z.object({ id: z.string(), series: z.number().int(), status: z.literal('pending') });
const tags = ['webhooks'];

function decodeCursor(cursor: string): { created: string; id: string } {
  try {
    const [created, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof created === 'string' && !Number.isNaN(Date.parse(created)) && typeof id === 'string') return { created, id };
  } catch {
    /* fall through */
  }
  throw new ValidationError('invalid cursor', [{ path: 'cursor', message: 'use next_cursor from the previous page' }]);
}

/** The delivery log: every outgoing webhook with its attempts, and replay. Secrets are never returned. */
export const webhookDeliveryRoutes: RouteModule = (app, { rt, modules }) => {
  app.get(
    '/api/webhook-deliveries',
    { schema: { operationId: 'listWebhookDeliveries', tags, summary: 'List webhook deliveries, newest first', querystring: ListQuerySchema, response: { 200: pageOf(WebhookDeliverySchema) } } },
    async (req) => {
      const q = req.query;
      const rows = await listDeliveries(rt.pg, { ...q, limit: q.limit + 1, cursor: q.cursor ? decodeCursor(q.cursor) : undefined });
      const items = rows.slice(0, q.limit);
      const last = items[items.length - 1];
      const next_cursor = rows.length > q.limit && last ? Buffer.from(JSON.stringify([last.created, last.id])).toString('base64url') : null;
      return { items, next_cursor };
    },
  );

  app.get(
    '/api/webhook-deliveries/:id',
    { schema: { operationId: 'getWebhookDelivery', tags, summary: 'A delivery with every attempt', params: IdParams, response: { 200: WebhookDeliverySchema } } },
    async (req) => {
      const delivery = await getDelivery(rt.pg, req.params.id);
      if (!delivery) throw new NotFoundError('webhook delivery', req.params.id);
      return delivery;
    },
  );

  app.post(
    '/api/webhook-deliveries/:id/replay',
    {
      schema: {
        operationId: 'replayWebhookDelivery',
        tags,
        summary: 'Send a delivery again: same body, new attempt series and signature timestamp',
        params: IdParams,
        response: { 202: ReplayResponseSchema },
      },
    },
    async (req, reply) => {
      const replay = await startReplay(rt.pg, req.params.id);
      if (!replay) throw new NotFoundError('webhook delivery', req.params.id);
      await modules.deliveries.enqueue(replay.job, { series: replay.series });
      return reply.code(202).send({ id: req.params.id, series: replay.series, status: 'pending' as const });
    },
  );
};
