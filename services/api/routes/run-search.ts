import { z } from 'zod';
import { NotFoundError } from '../../../core/errors.ts';
import { automationName, getFiring } from '../../../modules/automations/index.ts';
import { getEvent } from '../../../modules/events/index.ts';
import { flowRunHistory, getRunOrigin, searchFlowRuns, searchLogs } from '../../../modules/runs/index.ts';
import type { Pool } from '../../../infra/db.ts';
import { LogSearchPageSchema, RunCauseSchema, RunHistorySchema, RunRowPageSchema, type RunCause } from '../../../schemas/dashboard.ts';
import type { RouteModule } from '../route-module.ts';
import { csv, DAY_MS, resolveRange, TimeRangeQuery } from '../time-range.ts';

const StateNameSchema = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a state type or name (`FAILED`, `Late`)');

const SearchQuery = z
  .object({
    state: csv(StateNameSchema, 20).optional().describe('State types or names, comma-separated: `FAILED,CRASHED`, `Late`.'),
    flow_name: z.string().min(1).max(200).optional(),
    deployment_id: z.string().min(1).max(64).optional(),
    work_pool: z.string().min(1).max(200).optional(),
    tag: z.string().min(1).max(200).optional(),
    q: z.string().min(1).max(200).optional().describe('Case-insensitive substring of the run name.'),
    ...TimeRangeQuery,
    order: z.enum(['desc', 'asc']).default('desc').describe('By creation time: `desc` newest first, `asc` oldest first.'),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(200).optional().describe('next_cursor of the previous page (with the same order).'),
  })
  .strict();

const HistoryQuery = z
  .object({
    ...TimeRangeQuery,
    buckets: z.coerce.number().int().min(1).max(200).default(48),
    flow_name: z.string().min(1).max(200).optional(),
    deployment_id: z.string().min(1).max(64).optional(),
    work_pool: z.string().min(1).max(200).optional(),
  })
  .strict();

const LogSearchQuery = z
  .object({
    min_level: z.coerce.number().int().min(0).max(100).optional().describe('Pino levels: 20 debug, 30 info, 40 warn, 50 error.'),
    q: z.string().min(1).max(200).optional().describe('Case-insensitive substring of the message.'),
    task_run_id: z.string().max(64).optional(),
    cursor: z.string().max(20).optional().describe('Lines after this line id (next_cursor of the previous answer).'),
    limit: z.coerce.number().int().min(1).max(1000).default(500),
  })
  .strict();
const IdParams = z.object({ id: z.string().min(1).max(64) });
const tags = ['flow-runs'];

/**
 * What started a run: the runs module knows the kind and the ids; the automation, its firing and the
 * triggering event are each read from the module that owns them (any may be gone by now: its id stays).
 */
async function runCause(pg: Pool, id: string): Promise<RunCause | null> {
  const origin = await getRunOrigin(pg, id);
  if (!origin) return null;
  const by = origin.triggered_by;
  const [firing, event, name] = await Promise.all([
    by?.firing_id ? getFiring(pg, by.firing_id) : null,
    by?.event_id ? getEvent(pg, by.event_id) : null,
    by?.automation_id ? automationName(pg, by.automation_id) : null,
  ]);
  return {
    kind: origin.kind,
    automation: by?.automation_id ? { id: by.automation_id, name } : null,
    firing: firing ? { id: firing.id, fired_at: firing.fired_at, trigger_path: firing.trigger_path, bucket_key: firing.bucket_key, count: firing.count } : null,
    event: event ? { id: event.id, event: event.event, occurred: event.occurred, resource_id: event.resource['reflex.resource.id'] } : null,
    scheduled_for: origin.scheduled_for,
    parent_flow_run: origin.parent_flow_run,
  };
}

/** The dashboard's reads of flow runs: slim filtered rows, activity per state and bucket, cause, log search. */
export const runSearchRoutes: RouteModule = (app, { rt }) => {
  app.get(
    '/api/flow-runs/search',
    {
      schema: {
        operationId: 'searchFlowRuns',
        tags,
        summary: 'Slim flow-run rows of a time range (at most 400 days; default the last 24 h), newest or oldest first, with filters',
        querystring: SearchQuery,
        response: { 200: RunRowPageSchema },
      },
    },
    async (req) => {
      const range = resolveRange(req.query, 400 * DAY_MS);
      return { ...(await searchFlowRuns(rt.pg, { ...req.query, ...range })), ...range };
    },
  );

  app.get(
    '/api/flow-runs/history',
    {
      schema: {
        operationId: 'getFlowRunHistory',
        tags,
        summary: 'Runs created in a time range (at most 90 days) counted per state type and time bucket',
        querystring: HistoryQuery,
        response: { 200: RunHistorySchema },
      },
    },
    async (req) => {
      const range = resolveRange(req.query, 90 * DAY_MS);
      return { ...range, ...(await flowRunHistory(rt.pg, { ...req.query, ...range })) };
    },
  );

  app.get(
    '/api/flow-runs/:id/cause',
    { schema: { operationId: 'getFlowRunCause', tags, summary: 'What started a flow run', params: IdParams, response: { 200: RunCauseSchema } } },
    async (req) => {
      const cause = await runCause(rt.pg, req.params.id);
      if (!cause) throw new NotFoundError('flow run', req.params.id);
      return cause;
    },
  );

  app.get(
    '/api/flow-runs/:id/logs/search',
    {
      schema: {
        operationId: 'searchFlowRunLogs',
        tags,
        summary: "A run's log lines filtered by level, text and task, oldest first after a cursor",
        params: IdParams,
        querystring: LogSearchQuery,
        response: { 200: LogSearchPageSchema },
      },
    },
    async (req) => searchLogs(rt.pg, req.params.id, req.query),
  );
};
