import { z } from 'zod';
import { NotFoundError } from '../../../core/errors.ts';
import { getFlowRunDetail, getFlowRunLogs, listFlowRuns } from '../../../modules/runs/index.ts';
import { pageOf } from '../../../schemas/common.ts';
import { FlowRunSchema, LogLineSchema, StateSchema, StateTypeSchema, TaskRunSchema } from '../../../schemas/flow-run.ts';
import type { RouteModule } from '../route-module.ts';

const ListQuerySchema = z.object({
  state: z.string().max(500).optional().describe('State types or names, comma-separated: `COMPLETED`, `Late`, `FAILED,CRASHED`.'),
  deployment_id: z.string().max(100).optional(),
  flow_name: z.string().max(200).optional(),
  tag: z.string().max(200).optional(),
  since: z.iso.datetime({ offset: true }).optional().describe('Only runs created at or after this time.'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});
const LogsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
  cursor: z.string().max(40).optional(),
  task_run_id: z.string().max(100).optional(),
});
const IdParams = z.object({ id: z.string().min(1).max(100) });
const CancelBody = z.object({ message: z.string().max(1000).optional() }).strict();
const SetStateBody = z
  .object({
    state: z
      .object({ type: StateTypeSchema, name: z.string().max(64).optional(), message: z.string().max(2000).optional(), scheduled_time: z.iso.datetime({ offset: true }).optional() })
      .strict(),
    force: z.boolean().default(false).describe('Skip the transition rules.'),
  })
  .strict();
const FlowRunDetailSchema = FlowRunSchema.extend({ state_history: z.array(StateSchema), task_runs: z.array(TaskRunSchema) });
const tags = ['flow-runs'];

/** Flow runs: filtered lists, details with state history and task runs, logs, cancel and set-state. */
export const flowRunRoutes: RouteModule = (app, { rt, modules }) => {
  const { flowRuns } = modules.runs;
  app.get(
    '/api/flow-runs',
    { schema: { operationId: 'listFlowRuns', tags, summary: 'List flow runs, newest first', querystring: ListQuerySchema, response: { 200: pageOf(FlowRunSchema) } } },
    async (req) => listFlowRuns(rt.pg, req.query),
  );

  app.get(
    '/api/flow-runs/:id',
    { schema: { operationId: 'getFlowRun', tags, summary: 'A flow run with its state history and task runs', params: IdParams, response: { 200: FlowRunDetailSchema } } },
    async (req) => {
      const detail = await getFlowRunDetail(rt.pg, req.params.id);
      if (!detail) throw new NotFoundError('flow run', req.params.id);
      return detail;
    },
  );

  app.get(
    '/api/flow-runs/:id/logs',
    {
      schema: {
        operationId: 'getFlowRunLogs',
        tags,
        summary: "A flow run's log lines, oldest first",
        params: IdParams,
        querystring: LogsQuerySchema,
        response: { 200: pageOf(LogLineSchema.extend({ id: z.string() })) },
      },
    },
    async (req) => getFlowRunLogs(rt.pg, req.params.id, req.query),
  );

  app.post(
    '/api/flow-runs/:id/cancel',
    {
      schema: {
        operationId: 'cancelFlowRun',
        tags,
        summary: 'Cancel a run (RUNNING -> CANCELLING, then CANCELLED by its worker; not started -> CANCELLED)',
        params: IdParams,
        body: CancelBody,
        response: { 200: FlowRunSchema },
      },
    },
    async (req) => flowRuns.cancel(req.params.id, req.body.message),
  );

  app.post(
    '/api/flow-runs/:id/set-state',
    {
      schema: {
        operationId: 'setFlowRunState',
        tags,
        summary: 'Propose a state; 409 with the reason when the rules refuse it',
        params: IdParams,
        body: SetStateBody,
        response: { 200: FlowRunSchema },
      },
    },
    async (req) => flowRuns.changeState(req.params.id, req.body.state, { force: req.body.force }),
  );
};
