import { z } from 'zod';
import { NotFoundError } from '../../../core/errors.ts';
import { deleteConcurrencyLimit, getConcurrencyLimitInfo, listConcurrencyLimits, setConcurrencyLimit } from '../../../modules/runs/index.ts';
import { pageOf } from '../../../schemas/common.ts';
import type { RouteModule } from '../route-module.ts';

export const ConcurrencyLimitSchema = z.object({
  name: z.string(),
  limit: z.number().int(),
  active_slots: z.number().int().describe('Slots held by unexpired leases right now.'),
});
const NameParams = z.object({ name: z.string().min(1).max(200).regex(/^[^\s:]+$/, 'no spaces or ":"') });
const LimitBody = z.object({ limit: z.number().int().min(0).max(1_000_000).describe('Slots available at once; 0 blocks every holder.') }).strict();
const tags = ['concurrency-limits'];

/** Global concurrency limits by name, used by the SDK's `concurrency(name, occupy)`. */
export const concurrencyLimitRoutes: RouteModule = (app, { rt }) => {
  app.get(
    '/api/concurrency-limits',
    { schema: { operationId: 'listConcurrencyLimits', tags, summary: 'List concurrency limits with their active slots', response: { 200: pageOf(ConcurrencyLimitSchema) } } },
    async () => ({ items: await listConcurrencyLimits(rt.redis, rt.names), next_cursor: null }),
  );

  app.get(
    '/api/concurrency-limits/:name',
    { schema: { operationId: 'getConcurrencyLimit', tags, summary: 'Get one concurrency limit', params: NameParams, response: { 200: ConcurrencyLimitSchema } } },
    async (req) => {
      const info = await getConcurrencyLimitInfo(rt.redis, rt.names, req.params.name);
      if (!info) throw new NotFoundError('concurrency limit', req.params.name);
      return info;
    },
  );

  app.put(
    '/api/concurrency-limits/:name',
    { schema: { operationId: 'setConcurrencyLimit', tags, summary: 'Create or change a concurrency limit', params: NameParams, body: LimitBody, response: { 200: ConcurrencyLimitSchema } } },
    async (req) => setConcurrencyLimit(rt.redis, rt.names, req.params.name, req.body.limit),
  );

  app.delete(
    '/api/concurrency-limits/:name',
    { schema: { operationId: 'deleteConcurrencyLimit', tags, summary: 'Delete a concurrency limit (the name becomes unlimited)', params: NameParams, response: { 204: z.undefined() } } },
    async (req, reply) => {
      if (!(await deleteConcurrencyLimit(rt.redis, rt.names, req.params.name))) throw new NotFoundError('concurrency limit', req.params.name);
      return reply.code(204).send();
    },
  );
};
