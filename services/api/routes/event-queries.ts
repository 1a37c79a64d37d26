import { z } from 'zod';
import { NotFoundError } from '../../../core/errors.ts';
import { countEventsBy, getEvent, queryEvents } from '../../../modules/events/event-table.ts';
import { CountByRequestSchema, CountByResponseSchema, EventFilterSchema, EventPageSchema, StoredEventSchema } from '../../../schemas/event-filter.ts';
import type { RouteModule } from '../app.ts';
import { parseInput } from '../validate.ts';

const IdParams = z.object({ id: z.string() });

/** Reads stored events: filter (newest first, keyset-paginated), one by id, and counts. */
export const eventQueryRoutes: RouteModule = (app, { rt, docs }) => {
  docs.add({
    method: 'post',
    path: '/api/events/filter',
    summary: 'Stored events matching a filter, newest first',
    tags: ['events'],
    body: EventFilterSchema,
    response: EventPageSchema,
  });
  app.post('/api/events/filter', async (req) => {
    const filter = parseInput(EventFilterSchema, req.body ?? {}, 'event filter');
    return queryEvents(rt.pg, filter);
  });

  docs.add({
    method: 'post',
    path: '/api/events/count-by',
    summary: 'Count stored events by event name, resource id or time bucket',
    tags: ['events'],
    body: CountByRequestSchema,
    response: CountByResponseSchema,
  });
  app.post('/api/events/count-by', async (req) => {
    const request = parseInput(CountByRequestSchema, req.body ?? {}, 'count-by request');
    return { items: await countEventsBy(rt.pg, request) };
  });

  docs.add({ method: 'get', path: '/api/events/{id}', summary: 'One stored event', tags: ['events'], response: StoredEventSchema });
  app.get('/api/events/:id', async (req) => {
    const { id } = parseInput(IdParams, req.params);
    const event = await getEvent(rt.pg, id);
    if (!event) throw new NotFoundError('event', id);
    return event;
  });
};
