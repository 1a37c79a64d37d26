import { z } from 'zod';
import { ValidationError } from '../../../core/errors.ts';
import { normalizeEvents } from '../../../core/events.ts';
import { isUuid } from '../../../core/ids.ts';
import {
  announceAutomationChange,
  compilePlan,
  deleteAutomation,
  DRY_RUN_AUTOMATION_ID,
  dryRun,
  finishAutomation,
  getAutomation,
  insertAutomation,
  listAutomations,
  listFirings,
  maskSecrets,
  RedisStateStore,
  replaceAutomation,
  restoreSecrets,
} from '../../../modules/automations/index.ts';
import { streamStoredEvents } from '../../../modules/events/index.ts';
import { AutomationInputSchema, AutomationPatchSchema, AutomationSchema, type AutomationDocument } from '../../../schemas/automation.ts';
import { pageOf } from '../../../schemas/common.ts';
import { EventInputSchema, type ReflexEvent } from '../../../schemas/event.ts';
import { FiringRecordSchema } from '../../../schemas/firing.ts';
import { FiringSchema } from '../../../schemas/jobs.ts';
import { VariableCache } from '../../../modules/variables/index.ts';
import type { RouteModule } from '../route-module.ts';
import { previewMetric } from '../metric-preview.ts';

const IdParams = z.object({ id: z.string().max(100) });
const FiringsQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50), cursor: z.string().max(200).optional() });

const TestBodySchema = z
  .object({
    automation: AutomationInputSchema,
    events: z.array(EventInputSchema).max(10_000).default([]),
    until: z.iso.datetime({ offset: true }).optional().describe('Clock at the end of the run (proactive deadlines up to it fire); default: now or the last event.'),
  })
  .strict();
const BacktestBodySchema = z
  .object({
    automation: AutomationInputSchema,
    occurred_after: z.iso.datetime({ offset: true }),
    occurred_before: z.iso.datetime({ offset: true }),
    limit: z.number().int().min(1).max(100_000).default(10_000),
  })
  .strict();
const DryRunActionSchema = z.object({
  index: z.number(),
  type: z.string(),
  status: z.enum(['would-run', 'failed', 'not-rendered']),
  reason: z.string().optional(),
  rendered: z.record(z.string(), z.unknown()).optional().describe('What would be sent: the webhook job (never its secret), the command, the event, the automation toggled.'),
});
const DryRunResponseSchema = z.object({
  firings: z.array(FiringSchema.omit({ key: true }).extend({ actions: z.array(DryRunActionSchema) })),
  buckets: z.array(
    z.object({ trigger_path: z.string(), key: z.string(), labels: z.record(z.string(), z.string()), fired: z.boolean(), firings: z.number(), count: z.number(), reason: z.string() }),
  ),
  events_evaluated: z.number(),
  truncated: z.boolean(),
  flow_control: z
    .array(
      z.object({
        event_id: z.string().nullable(),
        key: z.string(),
        mode: z.enum(['debounce', 'throttle', 'rate_limit', 'batch']),
        decision: z.enum(['released', 'debounced', 'suppressed', 'batched', 'throttled', 'dropped']),
        reason: z.string(),
        due: z.string().nullable(),
      }),
    )
    .describe('What flow control did with each firing, in order, and why.'),
  truncated_reason: z.string().optional(),
  // run control (issue 15): a metric trigger's measure, now (dry run) or across the range (backtest)
  metric: z
    .object({
      samples: z.array(z.object({ at: z.string(), value: z.number().nullable(), samples: z.number(), inside: z.boolean() })),
      transitions: z.array(z.object({ at: z.string(), state: z.enum(['triggered', 'resolved']), value: z.number().nullable() })),
      note: z.string().optional(),
    })
    .optional(),
});
const tags = ['automations'];

/** Automations CRUD (signing secrets never returned), firing history, dry runs and backtests. */
export const automationRoutes: RouteModule = (app, { rt }) => {
  const store = new RedisStateStore(rt.redis, rt.names);
  const changed = () => announceAutomationChange(rt.nats, rt.names, rt.log);
  const flowLimits = { maxBatch: rt.config.flowControlMaxBatch };
  // A dry run reads variables as they are now (no cache).
  const variables = new VariableCache(rt.pg, 0);

  /** Stored events of a time range, oldest first, narrowed by event name when the trigger allows it (the event store's filter). */
  async function storedEvents(doc: AutomationDocument, after: string, before: string, limit: number): Promise<ReflexEvent[]> {
    const plan = compilePlan({ ...doc, id: DRY_RUN_AUTOMATION_ID, created: '', updated: '' });
    const names = plan.leaves.every((l) => l.compiled.exactNames) ? [...new Set(plan.leaves.flatMap((l) => l.compiled.exactNames ?? []))] : undefined;
    const events: ReflexEvent[] = [];
    for await (const e of streamStoredEvents(rt.pg, { occurred_after: after, occurred_before: before, event: names }, Math.min(limit, 1000))) {
      events.push(e);
      if (events.length >= limit) break;
    }
    return events;
  }

  app.post(
    '/api/automations',
    { schema: { operationId: 'createAutomation', tags, summary: 'Create an automation', body: AutomationInputSchema, response: { 201: AutomationSchema } } },
    async (req, reply) => {
      const created = await insertAutomation(rt.pg, restoreSecrets(finishAutomation(req.body, [], flowLimits), null));
      changed();
      return reply.code(201).send(maskSecrets(created));
    },
  );

  app.get(
    '/api/automations',
    { schema: { operationId: 'listAutomations', tags, summary: 'List automations (by name)', response: { 200: pageOf(AutomationSchema) } } },
    async () => ({ items: (await listAutomations(rt.pg)).map(maskSecrets), next_cursor: null }),
  );

  app.get(
    '/api/automations/:id',
    { schema: { operationId: 'getAutomation', tags, summary: 'Read an automation', params: IdParams, response: { 200: AutomationSchema } } },
    async (req) => maskSecrets(await getAutomation(rt.pg, req.params.id)),
  );

  app.put(
    '/api/automations/:id',
    {
      schema: {
        operationId: 'replaceAutomation',
        tags,
        summary: 'Replace an automation (a changed trigger starts from fresh state; a masked secret keeps the stored one)',
        params: IdParams,
        body: AutomationInputSchema,
        response: { 200: AutomationSchema },
      },
    },
    async (req) => {
      const current = await getAutomation(rt.pg, req.params.id);
      const updated = await replaceAutomation(rt.pg, req.params.id, restoreSecrets(finishAutomation(req.body, [], flowLimits), current));
      changed();
      return maskSecrets(updated);
    },
  );

  app.patch(
    '/api/automations/:id',
    {
      schema: {
        operationId: 'updateAutomation',
        tags,
        summary: 'Change enabled, name, description or tags (`{"enabled": false}` pauses)',
        params: IdParams,
        body: AutomationPatchSchema,
        response: { 200: AutomationSchema },
      },
    },
    async (req) => {
      const { id: _id, created: _c, updated: _u, ...current } = await getAutomation(rt.pg, req.params.id);
      const parsed = AutomationInputSchema.safeParse({ ...current, ...req.body });
      if (!parsed.success) throw ValidationError.fromIssues('automation', parsed.error.issues);
      const updated = await replaceAutomation(rt.pg, req.params.id, finishAutomation(parsed.data, [], flowLimits));
      changed();
      return maskSecrets(updated);
    },
  );

  app.delete(
    '/api/automations/:id',
    {
      schema: { operationId: 'deleteAutomation', tags, summary: 'Delete an automation and its trigger state (firing history stays)', params: IdParams, response: { 204: z.undefined() } },
    },
    async (req, reply) => {
      await deleteAutomation(rt.pg, req.params.id);
      if (isUuid(req.params.id)) await store.forget(req.params.id);
      changed();
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/automations/:id/firings',
    {
      schema: {
        operationId: 'listAutomationFirings',
        tags,
        summary: 'Firing history, newest first, with each action outcome',
        params: IdParams,
        querystring: FiringsQuery,
        response: { 200: pageOf(FiringRecordSchema) },
      },
    },
    async (req) => {
      await getAutomation(rt.pg, req.params.id);
      return listFirings(rt.pg, req.params.id, req.query.limit, req.query.cursor);
    },
  );

  app.post(
    '/api/automations/test',
    {
      schema: {
        operationId: 'testAutomation',
        tags,
        summary: 'Dry run: evaluate a draft automation on the given events; nothing is stored or sent',
        body: TestBodySchema,
        response: { 200: DryRunResponseSchema },
      },
    },
    async (req) => {
      const doc = finishAutomation(req.body.automation, ['automation'], flowLimits);
      if (doc.trigger.type === 'metric') return { firings: [], buckets: [], events_evaluated: 0, truncated: false, flow_control: [], metric: await previewMetric(rt.pg, doc.trigger, null) };
      const events = req.body.events.length > 0 ? normalizeEvents(req.body.events, { maxPayloadBytes: rt.config.maxPayloadBytes }) : [];
      return dryRun(doc, events, {
        until: req.body.until ? Date.parse(req.body.until) : undefined,
        maxPayloadBytes: rt.config.maxPayloadBytes,
        variable: async (name) => (await variables.values([name]))[name],
        publicUrl: rt.config.publicUrl,
      });
    },
  );

  app.post(
    '/api/automations/backtest',
    {
      schema: {
        operationId: 'backtestAutomation',
        tags,
        summary: 'Replay stored events of a time range through a draft automation (dry run)',
        body: BacktestBodySchema,
        response: { 200: DryRunResponseSchema },
      },
    },
    async (req) => {
      const body = req.body;
      const doc = finishAutomation(body.automation, ['automation'], flowLimits);
      if (Date.parse(body.occurred_before) <= Date.parse(body.occurred_after)) {
        throw new ValidationError('occurred_before must be after occurred_after', [{ path: 'occurred_before', message: 'must be after occurred_after' }]);
      }
      if (doc.trigger.type === 'metric') {
        const metric = await previewMetric(rt.pg, doc.trigger, { from: Date.parse(body.occurred_after), to: Date.parse(body.occurred_before) });
        return { firings: [], buckets: [], events_evaluated: 0, truncated: false, flow_control: [], metric };
      }
      const events = await storedEvents(doc, body.occurred_after, body.occurred_before, body.limit);
      return dryRun(doc, events, { until: Date.parse(body.occurred_before), maxPayloadBytes: rt.config.maxPayloadBytes });
    },
  );
};
