import { z } from 'zod';
import { NotFoundError } from '../../../core/errors.ts';
import { pageOf } from '../../../schemas/common.ts';
import { FlowRunSchema, LogLineSchema, StateSchema, StateTypeSchema, TaskRunSchema } from '../../../schemas/flow-run.ts';
import { getFlowRunDetail, getFlowRunLogs, listFlowRuns } from '../../../modules/runs/flow-run-queries.ts';
import { cancelFlowRun, changeFlowRunState } from '../../../modules/runs/flow-run-ops.ts';
import type { RouteModule } from '../app.ts';
import { parseInput } from '../validate.ts';

const ListQuerySchema = z.object({
  state: z.string().optional().describe('State types or names, comma-separated: `COMPLETED`, `Late`, `FAILED,CRASHED`.'),
  deployment_id: z.string().optional(),
  flow_name: z.string().optional(),
  tag: z.string().optional(),
  since: z.iso.datetime({ offset: true }).optional().describe('Only runs created at or after this time.'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().optional(),
});
const LogsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
  cursor: z.string().optional(),
  task_run_id: z.string().optional(),
});
const IdParams = z.object({ id: z.string().min(1) });
const CancelBody = z.object({ message: z.string().max(1000).optional() }).strict();
const SetStateBody = z
  .object({
    state: z.object({ type: StateTypeSchema, name: z.string().optional(), message: z.string().optional(), scheduled_time: z.iso.datetime({ offset: true }).optional() }).strict(),
    force: z.boolean().default(false).describe('Skip the transition rules.'),
  })
  .strict();
const FlowRunDetailSchema = FlowRunSchema.extend({ state_history: z.array(StateSchema), task_runs: z.array(TaskRunSchema) });

/** Flow runs: filtered lists, details with state history and task runs, logs, cancel and set-state. */
export const flowRunRoutes: RouteModule = (app, { rt, docs }) => {
  const tags = ['flow-runs'];
  docs.add({ method: 'get', path: '/api/flow-runs', summary: 'List flow runs, newest first', tags, query: ListQuerySchema, response: pageOf(FlowRunSchema) });
  app.get('/api/flow-runs', async (req) => listFlowRuns(rt.pg, parseInput(ListQuerySchema, req.query, 'query')));

  docs.add({ method: 'get', path: '/api/flow-runs/{id}', summary: 'A flow run with its state history and task runs', tags, response: FlowRunDetailSchema });
  app.get('/api/flow-runs/:id', async (req) => {
    const { id } = parseInput(IdParams, req.params);
    const detail = await getFlowRunDetail(rt.pg, id);
    if (!detail) throw new NotFoundError('flow run', id);
    return detail;
  });

  docs.add({ method: 'get', path: '/api/flow-runs/{id}/logs', summary: "A flow run's log lines, oldest first", tags, query: LogsQuerySchema, response: pageOf(LogLineSchema.extend({ id: z.string() })) });
  app.get('/api/flow-runs/:id/logs', async (req) => {
    const { id } = parseInput(IdParams, req.params);
    return getFlowRunLogs(rt.pg, id, parseInput(LogsQuerySchema, req.query, 'query'));
  });

  docs.add({ method: 'post', path: '/api/flow-runs/{id}/cancel', summary: 'Cancel a run (RUNNING -> CANCELLING, then CANCELLED by its worker; not started -> CANCELLED)', tags, body: CancelBody, response: FlowRunSchema });
  app.post('/api/flow-runs/:id/cancel', async (req) => {
    const { id } = parseInput(IdParams, req.params);
    const body = parseInput(CancelBody, req.body ?? {}, 'cancel request');
    return cancelFlowRun(rt, id, body.message);
  });

  docs.add({ method: 'post', path: '/api/flow-runs/{id}/set-state', summary: 'Propose a state; 409 with the reason when the rules refuse it', tags, body: SetStateBody, response: FlowRunSchema });
  app.post('/api/flow-runs/:id/set-state', async (req) => {
    const { id } = parseInput(IdParams, req.params);
    const body = parseInput(SetStateBody, req.body, 'set-state request');
    return changeFlowRunState(rt, id, body.state, { force: body.force });
  });
};
