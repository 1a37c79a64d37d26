import { z } from 'zod';
import { NotFoundError } from '../../../core/errors.ts';
import { countEventsBy, getEvent, queryEvents } from '../../../modules/events/index.ts';
import { CountByRequestSchema, CountByResponseSchema, EventFilterSchema, EventPageSchema, StoredEventSchema } from '../../../schemas/event-filter.ts';
import type { RouteModule } from '../route-module.ts';

const IdParams = z.object({ id: z.string().max(100) });
const tags = ['events'];

/** Reads stored events: filter (newest first, keyset-paginated), one by id, and counts. */
export const eventQueryRoutes: RouteModule = (app, { rt }) => {
  app.post(
    '/api/events/filter',
    { schema: { operationId: 'filterEvents', tags, summary: 'Stored events matching a filter, newest first', body: EventFilterSchema, response: { 200: EventPageSchema } } },
    async (req) => queryEvents(rt.pg, req.body),
  );

  app.post(
    '/api/events/count-by',
    {
      schema: {
        operationId: 'countEvents',
        tags,
        summary: 'Count stored events by event name, resource id or time bucket',
        body: CountByRequestSchema,
        response: { 200: CountByResponseSchema },
      },
    },
    async (req) => ({ items: await countEventsBy(rt.pg, req.body) }),
  );

  app.get(
    '/api/events/:id',
    { schema: { operationId: 'getEvent', tags, summary: 'One stored event', params: IdParams, response: { 200: StoredEventSchema } } },
    async (req) => {
      const event = await getEvent(rt.pg, req.params.id);
      if (!event) throw new NotFoundError('event', req.params.id);
      return event;
    },
  );
};
