import { z } from 'zod';
import { pageOf } from '../../../schemas/common.ts';
import { WorkPoolInputSchema, WorkPoolPatchSchema, WorkPoolSchema } from '../../../schemas/deployment.ts';
import type { RouteModule } from '../route-module.ts';

const NameParams = z.object({ name: z.string().min(1).max(200) });
const tags = ['work-pools'];

/** Work pools: each maps to a BullMQ queue; pausing one pauses its queue. */
export const workPoolRoutes: RouteModule = (app, { modules }) => {
  const { workPools } = modules.runs;
  app.get(
    '/api/work-pools',
    { schema: { operationId: 'listWorkPools', tags, summary: 'List work pools', response: { 200: pageOf(WorkPoolSchema) } } },
    async () => ({ items: await workPools.list(), next_cursor: null }),
  );

  app.post(
    '/api/work-pools',
    { schema: { operationId: 'createWorkPool', tags, summary: 'Create a work pool (409 when it exists)', body: WorkPoolInputSchema, response: { 201: WorkPoolSchema } } },
    async (req, reply) => reply.code(201).send(await workPools.create(req.body)),
  );

  app.get(
    '/api/work-pools/:name',
    { schema: { operationId: 'getWorkPool', tags, summary: 'Get a work pool', params: NameParams, response: { 200: WorkPoolSchema } } },
    async (req) => workPools.require(req.params.name),
  );

  app.patch(
    '/api/work-pools/:name',
    {
      schema: { operationId: 'updateWorkPool', tags, summary: 'Change description or concurrency_limit (null: no limit)', params: NameParams, body: WorkPoolPatchSchema, response: { 200: WorkPoolSchema } },
    },
    async (req) => workPools.update(req.params.name, req.body),
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/api/work-pools/:name/${action}`,
      {
        schema: {
          operationId: `${action}WorkPool`,
          tags,
          summary: `${action === 'pause' ? 'Pause' : 'Resume'} a work pool (its queue and manual runs)`,
          params: NameParams,
          response: { 200: WorkPoolSchema },
        },
      },
      async (req) => workPools.setPaused(req.params.name, action === 'pause'),
    );
  }
};
