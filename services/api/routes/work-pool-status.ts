import { z } from 'zod';
import { NotFoundError } from '../../../core/errors.ts';
import { concurrencyHolders, deploymentPlan, getConcurrencyLimitInfo, requireDeployment, workPoolStatuses } from '../../../modules/runs/index.ts';
import { DeploymentPlanSchema, SlotHolderSchema, WorkPoolStatusSchema } from '../../../schemas/dashboard.ts';
import type { RouteModule } from '../route-module.ts';
import { ConcurrencyLimitSchema } from './concurrency-limits.ts';

const PlanQuery = z.object({ count: z.coerce.number().int().min(1).max(50).default(5) }).strict();
const HoldersSchema = ConcurrencyLimitSchema.extend({ holders: z.array(SlotHolderSchema) });
const RefParams = z.object({ id: z.string().min(1).max(400).describe('The id, the name, or `<flow>/<name>`.') });
const NameParams = z.object({ name: z.string().min(1).max(200).regex(/^[^\s:]+$/, 'no spaces or ":"') });

/** Health and plans: work pools with queue depths and workers, a deployment's next runs, a limit's holders. */
export const workPoolStatusRoutes: RouteModule = (app, { rt, modules }) => {
  const { workPools, queues } = modules.runs;
  app.get(
    '/api/work-pool-status',
    {
      schema: {
        operationId: 'listWorkPoolStatus',
        tags: ['work-pools'],
        summary: 'Every work pool with its queue counts, workers seen and runs in flight',
        response: { 200: z.object({ items: z.array(WorkPoolStatusSchema), next_cursor: z.null() }) },
      },
    },
    async () => ({ items: await workPoolStatuses({ pg: rt.pg, redis: rt.redis, names: rt.names, workPools, queues }), next_cursor: null }),
  );

  app.get(
    '/api/deployments/:id/plan',
    {
      schema: {
        operationId: 'getDeploymentPlan',
        tags: ['deployments'],
        summary: "A deployment's next start times per schedule and its runs waiting to start",
        params: RefParams,
        querystring: PlanQuery,
        response: { 200: DeploymentPlanSchema },
      },
    },
    async (req) => deploymentPlan(rt.pg, await requireDeployment(rt.pg, req.params.id), req.query.count),
  );

  app.get(
    '/api/concurrency-limits/:name/holders',
    {
      schema: {
        operationId: 'getConcurrencyLimitHolders',
        tags: ['concurrency-limits'],
        summary: 'A concurrency limit with the leases holding its slots',
        params: NameParams,
        response: { 200: HoldersSchema },
      },
    },
    async (req) => {
      const info = await getConcurrencyLimitInfo(rt.redis, rt.names, req.params.name);
      if (!info) throw new NotFoundError('concurrency limit', req.params.name);
      return { ...info, holders: await concurrencyHolders(rt.redis, rt.names, req.params.name) };
    },
  );
};
