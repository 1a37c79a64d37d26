import { z } from 'zod';
import { listDeployments, publicFlowRun, requireDeployment } from '../../../modules/runs/index.ts';
import { pageOf } from '../../../schemas/common.ts';
import { DeploymentInputSchema, DeploymentPatchSchema, DeploymentRunInputSchema, DeploymentSchema } from '../../../schemas/deployment.ts';
import { FlowRunSchema } from '../../../schemas/flow-run.ts';
import type { RouteModule } from '../route-module.ts';

const ListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(200).optional(),
  flow: z.string().max(200).optional(),
});
const RefParams = z.object({ id: z.string().min(1).max(400).describe('The id, the name, or `<flow>/<name>`.') });
const NameParams = z.object({ name: z.string().min(1).max(400) });
const tags = ['deployments'];

/** Deployments: CRUD (by id, or by name wherever an id is taken), run now, pause and resume. */
export const deploymentRoutes: RouteModule = (app, { rt, modules }) => {
  const { deployments, deploymentRuns } = modules.runs;
  app.post(
    '/api/deployments',
    { schema: { operationId: 'createDeployment', tags, summary: 'Create a deployment (409 when the name is taken)', body: DeploymentInputSchema, response: { 201: DeploymentSchema } } },
    async (req, reply) => reply.code(201).send(await deployments.create(req.body)),
  );

  app.get(
    '/api/deployments',
    { schema: { operationId: 'listDeployments', tags, summary: 'List deployments by name', querystring: ListQuerySchema, response: { 200: pageOf(DeploymentSchema) } } },
    async (req) => listDeployments(rt.pg, req.query),
  );

  app.get(
    '/api/deployments/:id',
    { schema: { operationId: 'getDeployment', tags, summary: 'Get a deployment by id or name', params: RefParams, response: { 200: DeploymentSchema } } },
    async (req) => requireDeployment(rt.pg, req.params.id),
  );

  app.get(
    '/api/deployments/name/:name',
    { schema: { operationId: 'getDeploymentByName', tags, summary: 'Get a deployment by name', params: NameParams, response: { 200: DeploymentSchema } } },
    async (req) => requireDeployment(rt.pg, req.params.name),
  );

  app.patch(
    '/api/deployments/:id',
    { schema: { operationId: 'updateDeployment', tags, summary: 'Change some fields of a deployment', params: RefParams, body: DeploymentPatchSchema, response: { 200: DeploymentSchema } } },
    async (req) => deployments.update(req.params.id, req.body),
  );

  app.delete(
    '/api/deployments/:id',
    { schema: { operationId: 'deleteDeployment', tags, summary: 'Delete a deployment (and its runs not yet started by the scheduler)', params: RefParams, response: { 204: z.undefined() } } },
    async (req, reply) => {
      await deployments.delete(req.params.id);
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/deployments/:id/runs',
    {
      schema: {
        operationId: 'runDeployment',
        tags,
        summary: 'Run a deployment now (or at scheduled_time) with parameter overrides; 400 when parameters break its parameter_schema, 409 when paused',
        params: RefParams,
        body: DeploymentRunInputSchema,
        response: { 201: FlowRunSchema, 200: FlowRunSchema.describe('The run an earlier request with the same idempotency_key created.') },
      },
    },
    async (req, reply) => {
      const deployment = await requireDeployment(rt.pg, req.params.id);
      const { run, created } = await deploymentRuns.create(deployment, { ...req.body, source: 'manual' });
      return reply.code(created ? 201 : 200).send(publicFlowRun(run));
    },
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/api/deployments/:id/${action}`,
      {
        schema: {
          operationId: `${action}Deployment`,
          tags,
          summary: `${action === 'pause' ? 'Pause' : 'Resume'} a deployment's schedules and manual runs`,
          params: RefParams,
          response: { 200: DeploymentSchema },
        },
      },
      async (req) => deployments.setPaused(req.params.id, action === 'pause'),
    );
  }
};
