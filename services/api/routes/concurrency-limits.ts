import { z } from 'zod';
import { NotFoundError } from '../../../core/errors.ts';
import { pageOf } from '../../../schemas/common.ts';
import { deleteConcurrencyLimit, getConcurrencyLimitInfo, listConcurrencyLimits, setConcurrencyLimit } from '../../../modules/runs/concurrency-limits.ts';
import type { RouteModule } from '../app.ts';
import { parseInput } from '../validate.ts';

export const ConcurrencyLimitSchema = z.object({
  name: z.string(),
  limit: z.number().int(),
  active_slots: z.number().int().describe('Slots held by unexpired leases right now.'),
});
const NameParams = z.object({ name: z.string().min(1).max(200).regex(/^[^\s:]+$/, 'no spaces or ":"') });
const LimitBody = z.object({ limit: z.number().int().min(0).describe('Slots available at once; 0 blocks every holder.') }).strict();

/** Global concurrency limits by name, used by the SDK's `concurrency(name, occupy)`. */
export const concurrencyLimitRoutes: RouteModule = (app, { rt, docs }) => {
  const tags = ['concurrency-limits'];
  docs.add({ method: 'get', path: '/api/concurrency-limits', summary: 'List concurrency limits with their active slots', tags, response: pageOf(ConcurrencyLimitSchema) });
  app.get('/api/concurrency-limits', async () => ({ items: await listConcurrencyLimits(rt.redis, rt.names), next_cursor: null }));

  docs.add({ method: 'get', path: '/api/concurrency-limits/{name}', summary: 'Get one concurrency limit', tags, response: ConcurrencyLimitSchema });
  app.get('/api/concurrency-limits/:name', async (req) => {
    const { name } = parseInput(NameParams, req.params);
    const info = await getConcurrencyLimitInfo(rt.redis, rt.names, name);
    if (!info) throw new NotFoundError('concurrency limit', name);
    return info;
  });

  docs.add({ method: 'put', path: '/api/concurrency-limits/{name}', summary: 'Create or change a concurrency limit', tags, body: LimitBody, response: ConcurrencyLimitSchema });
  app.put('/api/concurrency-limits/:name', async (req) => {
    const { name } = parseInput(NameParams, req.params);
    const { limit } = parseInput(LimitBody, req.body, 'concurrency limit');
    return setConcurrencyLimit(rt.redis, rt.names, name, limit);
  });

  docs.add({ method: 'delete', path: '/api/concurrency-limits/{name}', summary: 'Delete a concurrency limit (the name becomes unlimited)', tags, status: 204 });
  app.delete('/api/concurrency-limits/:name', async (req, reply) => {
    const { name } = parseInput(NameParams, req.params);
    if (!(await deleteConcurrencyLimit(rt.redis, rt.names, name))) throw new NotFoundError('concurrency limit', name);
    return reply.code(204).send();
  });
};
