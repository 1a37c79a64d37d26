import { z } from 'zod';
import { ConflictError, NotFoundError, ValidationError } from '../../../core/errors.ts';
import { normalizeEvents } from '../../../core/events.ts';
import { pgErrorKind } from '../../../infra/pg-errors.ts';
import { deleteDeadLetter, getDeadLetter, insertEventDocuments, listDeadLetters, markReplayed } from '../../../modules/events/index.ts';
import { pageOf } from '../../../schemas/common.ts';
import { EventInputSchema } from '../../../schemas/event.ts';
import type { RouteModule } from '../route-module.ts';

const IdParams = z.object({ id: z.uuid() });
const ListQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100), cursor: z.string().max(200).optional() });
const ReplayBody = z.object({ event: EventInputSchema.optional().describe('A corrected event to store instead of the original bytes.') }).strict();

const DeadLetterSchema = z.object({
  id: z.string(),
  consumer: z.string(),
  subject: z.string(),
  stream_seq: z.number(),
  reason: z.string(),
  error_code: z.string().nullable(),
  received: z.string(),
  replayed_at: z.string().nullable(),
  replay_count: z.number(),
  last_replay_error: z.string().nullable(),
  size_bytes: z.number(),
});
const DeadLetterDetailSchema = DeadLetterSchema.extend({ data_text: z.string(), data_base64: z.string() });
const tags = ['dead-letters'];

function decodeCursor(cursor: string): { received: string; id: string } {
  try {
    const [received, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof received === 'string' && !Number.isNaN(Date.parse(received)) && typeof id === 'string' && z.uuid().safeParse(id).success) return { received, id };
  } catch {
    /* fall through */
  }
  throw new ValidationError('invalid cursor', [{ path: 'cursor', message: 'pass next_cursor from the previous page unchanged' }]);
}

/** Messages a consumer could not apply, kept with their bytes; replay stores them once the cause is fixed. */
export const deadLetterRoutes: RouteModule = (app, { rt }) => {
  app.get(
    '/api/dead-letters',
    { schema: { operationId: 'listDeadLetters', tags, summary: 'Messages the recorder could not store, newest first', querystring: ListQuery, response: { 200: pageOf(DeadLetterSchema) } } },
    async (req) => {
      const q = req.query;
      const rows = await listDeadLetters(rt.pg, { limit: q.limit + 1, cursor: q.cursor ? decodeCursor(q.cursor) : undefined });
      const items = rows.slice(0, q.limit);
      const last = items[items.length - 1];
      const next_cursor = rows.length > q.limit && last ? Buffer.from(JSON.stringify([last.received, last.id])).toString('base64url') : null;
      return { items, next_cursor };
    },
  );

  app.get(
    '/api/dead-letters/:id',
    { schema: { operationId: 'getDeadLetter', tags, summary: 'A dead letter with its bytes (text and base64)', params: IdParams, response: { 200: DeadLetterDetailSchema } } },
    async (req) => {
      const d = await getDeadLetter(rt.pg, req.params.id);
      if (!d) throw new NotFoundError('dead letter', req.params.id);
      const { data: _bytes, ...view } = d;
      return view;
    },
  );

  app.post(
    '/api/dead-letters/:id/replay',
    {
      schema: {
        operationId: 'replayDeadLetter',
        tags,
        summary: 'Store the message now (after a fix), or a corrected event in its place; 409 with the reason when it still cannot be stored',
        params: IdParams,
        body: ReplayBody,
        response: { 200: z.object({ id: z.string(), stored: z.boolean() }) },
      },
    },
    async (req) => {
      const { id } = req.params;
      const d = await getDeadLetter(rt.pg, id);
      if (!d) throw new NotFoundError('dead letter', id);
      const doc = req.body.event
        ? JSON.stringify(normalizeEvents(req.body.event, { maxPayloadBytes: rt.config.maxPayloadBytes, maxEventBytes: rt.bus.maxEventBytes })[0])
        : d.data.toString('utf8');
      try {
        const stored = await insertEventDocuments(rt.pg, [doc]);
        await markReplayed(rt.pg, id, null);
        return { id, stored: stored > 0 };
      } catch (err) {
        if (pgErrorKind(err) !== 'data') throw err;
        const reason = err instanceof Error ? err.message : String(err);
        await markReplayed(rt.pg, id, reason);
        throw new ConflictError(`the message still cannot be stored: ${reason}`, 'replay_failed');
      }
    },
  );

  app.delete(
    '/api/dead-letters/:id',
    { schema: { operationId: 'deleteDeadLetter', tags, summary: 'Discard a dead letter', params: IdParams, response: { 204: z.undefined() } } },
    async (req, reply) => {
      if (!(await deleteDeadLetter(rt.pg, req.params.id))) throw new NotFoundError('dead letter', req.params.id);
      return reply.code(204).send();
    },
  );
};
