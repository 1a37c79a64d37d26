import { z } from 'zod';
import { pageOf } from '../../../schemas/common.ts';
import { WorkPoolInputSchema, WorkPoolPatchSchema, WorkPoolSchema } from '../../../schemas/deployment.ts';
import { createWorkPool, listWorkPools, requireWorkPool, setWorkPoolPaused, updateWorkPool } from '../../../modules/runs/work-pools.ts';
import type { RouteModule } from '../app.ts';
import { parseInput } from '../validate.ts';

const NameParams = z.object({ name: z.string().min(1) });

/** Work pools: each maps to a BullMQ queue; pausing one pauses its queue. */
export const workPoolRoutes: RouteModule = (app, { rt, docs }) => {
  const tags = ['work-pools'];
  docs.add({ method: 'get', path: '/api/work-pools', summary: 'List work pools', tags, response: pageOf(WorkPoolSchema) });
  app.get('/api/work-pools', async () => ({ items: await listWorkPools(rt.pg), next_cursor: null }));

  docs.add({ method: 'post', path: '/api/work-pools', summary: 'Create a work pool (409 when it exists)', tags, body: WorkPoolInputSchema, status: 201, response: WorkPoolSchema });
  app.post('/api/work-pools', async (req, reply) => reply.code(201).send(await createWorkPool(rt, parseInput(WorkPoolInputSchema, req.body, 'work pool'))));

  docs.add({ method: 'get', path: '/api/work-pools/{name}', summary: 'Get a work pool', tags, response: WorkPoolSchema });
  app.get('/api/work-pools/:name', async (req) => requireWorkPool(rt.pg, parseInput(NameParams, req.params).name));

  docs.add({ method: 'patch', path: '/api/work-pools/{name}', summary: 'Change description or concurrency_limit (null: no limit)', tags, body: WorkPoolPatchSchema, response: WorkPoolSchema });
  app.patch('/api/work-pools/:name', async (req) =>
    updateWorkPool(rt, parseInput(NameParams, req.params).name, parseInput(WorkPoolPatchSchema, req.body ?? {}, 'work pool patch')),
  );

  for (const action of ['pause', 'resume'] as const) {
    docs.add({ method: 'post', path: `/api/work-pools/{name}/${action}`, summary: `${action === 'pause' ? 'Pause' : 'Resume'} a work pool (its queue and manual runs)`, tags, response: WorkPoolSchema });
    app.post(`/api/work-pools/:name/${action}`, async (req) => setWorkPoolPaused(rt, parseInput(NameParams, req.params).name, action === 'pause'));
  }
};
