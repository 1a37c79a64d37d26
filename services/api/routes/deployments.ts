import { z } from 'zod';
import { pageOf } from '../../../schemas/common.ts';
import { DeploymentInputSchema, DeploymentPatchSchema, DeploymentRunInputSchema, DeploymentSchema } from '../../../schemas/deployment.ts';
import { FlowRunSchema } from '../../../schemas/flow-run.ts';
import { createDeployment, deleteDeployment, listDeployments, requireDeployment, setDeploymentPaused, updateDeployment } from '../../../modules/runs/deployments.ts';
import { publicFlowRun } from '../../../modules/runs/rows.ts';
import { createDeploymentRun } from '../../../modules/runs/deployment-runs.ts';
import type { RouteModule } from '../app.ts';
import { parseInput } from '../validate.ts';

const ListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().optional(),
  flow: z.string().optional(),
});
const RefParams = z.object({ id: z.string().min(1) });

/** Deployments: CRUD (by id, or by name wherever an id is taken), run now, pause and resume. */
export const deploymentRoutes: RouteModule = (app, { rt, docs }) => {
  const tags = ['deployments'];
  docs.add({ method: 'post', path: '/api/deployments', summary: 'Create a deployment (409 when the name is taken)', tags, body: DeploymentInputSchema, status: 201, response: DeploymentSchema });
  app.post('/api/deployments', async (req, reply) => {
    const input = parseInput(DeploymentInputSchema, req.body, 'deployment');
    return reply.code(201).send(await createDeployment(rt, input));
  });

  docs.add({ method: 'get', path: '/api/deployments', summary: 'List deployments by name', tags, query: ListQuerySchema, response: pageOf(DeploymentSchema) });
  app.get('/api/deployments', async (req) => {
    const q = parseInput(ListQuerySchema, req.query, 'query');
    return listDeployments(rt.pg, q);
  });

  docs.add({ method: 'get', path: '/api/deployments/{id}', summary: 'Get a deployment by id or name', tags, response: DeploymentSchema });
  app.get('/api/deployments/:id', async (req) => requireDeployment(rt.pg, parseInput(RefParams, req.params).id));

  docs.add({ method: 'get', path: '/api/deployments/name/{name}', summary: 'Get a deployment by name', tags, response: DeploymentSchema });
  app.get('/api/deployments/name/:name', async (req) => requireDeployment(rt.pg, (req.params as { name: string }).name));

  docs.add({ method: 'patch', path: '/api/deployments/{id}', summary: 'Change some fields of a deployment', tags, body: DeploymentPatchSchema, response: DeploymentSchema });
  app.patch('/api/deployments/:id', async (req) => {
    const patch = parseInput(DeploymentPatchSchema, req.body ?? {}, 'deployment patch');
    return updateDeployment(rt, parseInput(RefParams, req.params).id, patch);
  });

  docs.add({ method: 'delete', path: '/api/deployments/{id}', summary: 'Delete a deployment (and its runs not yet started by the scheduler)', tags, status: 204 });
  app.delete('/api/deployments/:id', async (req, reply) => {
    await deleteDeployment(rt, parseInput(RefParams, req.params).id);
    return reply.code(204).send();
  });

  docs.add({
    method: 'post',
    path: '/api/deployments/{id}/runs',
    summary: 'Run a deployment now (or at scheduled_time) with parameter overrides; 400 when parameters break its parameter_schema, 409 when paused',
    tags,
    body: DeploymentRunInputSchema,
    status: 201,
    response: FlowRunSchema,
  });
  app.post('/api/deployments/:id/runs', async (req, reply) => {
    const input = parseInput(DeploymentRunInputSchema, req.body ?? {}, 'run request');
    const deployment = await requireDeployment(rt.pg, parseInput(RefParams, req.params).id);
    const { run, created } = await createDeploymentRun(rt, deployment, { ...input, source: 'manual' });
    return reply.code(created ? 201 : 200).send(publicFlowRun(run));
  });

  for (const action of ['pause', 'resume'] as const) {
    docs.add({ method: 'post', path: `/api/deployments/{id}/${action}`, summary: `${action === 'pause' ? 'Pause' : 'Resume'} a deployment's schedules and manual runs`, tags, response: DeploymentSchema });
    app.post(`/api/deployments/:id/${action}`, async (req) => setDeploymentPaused(rt, parseInput(RefParams, req.params).id, action === 'pause'));
  }
};
