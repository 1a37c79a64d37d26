import { z } from 'zod';
import { ValidationError } from '../../../core/errors.ts';
import { normalizeEvents } from '../../../core/events.ts';
import type { Runtime } from '../../../infra/runtime.ts';
import { AutomationInputSchema, AutomationPatchSchema, AutomationSchema, type AutomationDocument } from '../../../schemas/automation.ts';
import { pageOf } from '../../../schemas/common.ts';
import { EventInputSchema, type ReflexEvent } from '../../../schemas/event.ts';
import { announceAutomationChange } from '../../automations/cache.ts';
import { dryRun } from '../../../modules/automations/engine/dry-run.ts';
import { compilePlan } from '../../../modules/automations/engine/plan.ts';
import { RedisStateStore } from '../../../modules/automations/redis-state-store.ts';
import * as repo from '../../../modules/automations/repository.ts';
import { validateAutomation } from '../../../modules/automations/engine/validate.ts';
import type { RouteModule } from '../app.ts';
import { parseInput } from '../validate.ts';

const IdParams = z.object({ id: z.string() });
const FiringsQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50), cursor: z.string().optional() });

const ActionOutcomeSchema = z.object({
  index: z.number(),
  type: z.string(),
  status: z.enum(['pending', 'executed', 'failed']),
  reason: z.string().optional(),
  detail: z.record(z.string(), z.unknown()).optional(),
  updated: z.string().optional(),
});
const FiringSchema = z.object({
  id: z.string(),
  automation_id: z.string(),
  state: z.enum(['triggered', 'resolved']),
  fired_at: z.string(),
  trigger_path: z.string(),
  triggering_labels: z.record(z.string(), z.string()),
  triggering_event: z.unknown().nullable(),
  count: z.number(),
  window_start: z.string().nullable(),
  window_end: z.string().nullable(),
  actions: z.array(ActionOutcomeSchema),
});

const TestBodySchema = z
  .object({
    automation: z.unknown(),
    events: z.array(EventInputSchema).max(10_000).default([]),
    until: z.iso.datetime({ offset: true }).optional().describe('Clock at the end of the run (proactive deadlines up to it fire); default: now or the last event.'),
  })
  .strict();
const BacktestBodySchema = z
  .object({
    automation: z.unknown(),
    occurred_after: z.iso.datetime({ offset: true }),
    occurred_before: z.iso.datetime({ offset: true }),
    limit: z.number().int().min(1).max(100_000).default(10_000),
  })
  .strict();
const DryRunResponseSchema = z.object({
  firings: z.array(z.record(z.string(), z.unknown())),
  buckets: z.array(z.object({ trigger_path: z.string(), key: z.string(), labels: z.record(z.string(), z.string()), fired: z.boolean(), firings: z.number(), count: z.number(), reason: z.string() })),
  events_evaluated: z.number(),
  truncated: z.boolean(),
  truncated_reason: z.string().optional(),
});

/** A document inside a request body: issue paths are prefixed with the field holding it. */
function validateNested(input: unknown, field: string): AutomationDocument {
  try {
    return validateAutomation(input);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const issues = err.issues.map((i) => ({ path: i.path ? `${field}.${i.path}` : field, message: i.message }));
    throw new ValidationError(`invalid ${field}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
}

/** Stored events of a time range, oldest first, narrowed by event name when the trigger allows it. */
async function storedEvents(rt: Runtime, doc: AutomationDocument, after: string, before: string, limit: number): Promise<ReflexEvent[]> {
  const plan = compilePlan({ ...doc, id: '00000000-0000-4000-8000-000000000000', created: '', updated: '' });
  const names = plan.leaves.every((l) => l.compiled.exactNames) ? [...new Set(plan.leaves.flatMap((l) => l.compiled.exactNames ?? []))] : null;
  const params: unknown[] = [after, before, limit];
  if (names) params.push(names);
  const res = await rt.pg.query(
    `SELECT id, occurred, event, resource, related, payload, follows FROM events
     WHERE occurred >= $1 AND occurred < $2 ${names ? 'AND event = ANY($4)' : ''} ORDER BY occurred, id LIMIT $3`,
    params,
  );
  return res.rows.map((r) => ({ ...r, occurred: (r.occurred as Date).toISOString(), follows: r.follows ?? null }));
}

/** Automations CRUD, firing history, dry runs and backtests. */
export const automationRoutes: RouteModule = (app, { rt, docs }) => {
  const store = new RedisStateStore(rt.redis, rt.names);
  const tags = ['automations'];

  docs.add({ method: 'post', path: '/api/automations', summary: 'Create an automation', tags, body: AutomationInputSchema, status: 201, response: AutomationSchema });
  app.post('/api/automations', async (req, reply) => {
    const created = await repo.insertAutomation(rt.pg, validateAutomation(req.body));
    announceAutomationChange(rt);
    return reply.code(201).send(created);
  });

  docs.add({ method: 'get', path: '/api/automations', summary: 'List automations (by name)', tags, response: pageOf(AutomationSchema) });
  app.get('/api/automations', async () => ({ items: await repo.listAutomations(rt.pg), next_cursor: null }));

  docs.add({ method: 'get', path: '/api/automations/{id}', summary: 'Read an automation', tags, response: AutomationSchema });
  app.get('/api/automations/:id', async (req) => repo.getAutomation(rt.pg, parseInput(IdParams, req.params).id));

  docs.add({ method: 'put', path: '/api/automations/{id}', summary: 'Replace an automation (a changed trigger starts from fresh state)', tags, body: AutomationInputSchema, response: AutomationSchema });
  app.put('/api/automations/:id', async (req) => {
    const { id } = parseInput(IdParams, req.params);
    const updated = await repo.replaceAutomation(rt.pg, id, validateAutomation(req.body));
    announceAutomationChange(rt);
    return updated;
  });

  docs.add({ method: 'patch', path: '/api/automations/{id}', summary: 'Change enabled, name, description or tags (`{"enabled": false}` pauses)', tags, body: AutomationPatchSchema, response: AutomationSchema });
  app.patch('/api/automations/:id', async (req) => {
    const { id } = parseInput(IdParams, req.params);
    const patch = parseInput(AutomationPatchSchema, req.body);
    const { id: _id, created: _c, updated: _u, ...current } = await repo.getAutomation(rt.pg, id);
    const updated = await repo.replaceAutomation(rt.pg, id, validateAutomation({ ...current, ...patch }));
    announceAutomationChange(rt);
    return updated;
  });

  docs.add({ method: 'delete', path: '/api/automations/{id}', summary: 'Delete an automation and its trigger state (firing history stays)', tags, status: 204 });
  app.delete('/api/automations/:id', async (req, reply) => {
    const { id } = parseInput(IdParams, req.params);
    await repo.deleteAutomation(rt.pg, id);
    await store.forget(id);
    announceAutomationChange(rt);
    return reply.code(204).send();
  });

  docs.add({ method: 'get', path: '/api/automations/{id}/firings', summary: 'Firing history, newest first, with each action outcome', tags, query: FiringsQuery, response: pageOf(FiringSchema) });
  app.get('/api/automations/:id/firings', async (req) => {
    const { id } = parseInput(IdParams, req.params);
    const q = parseInput(FiringsQuery, req.query, 'query');
    await repo.getAutomation(rt.pg, id);
    return repo.listFirings(rt.pg, id, q.limit, q.cursor);
  });

  docs.add({ method: 'post', path: '/api/automations/test', summary: 'Dry run: evaluate a draft automation on the given events; nothing is stored or sent', tags, body: TestBodySchema, response: DryRunResponseSchema });
  app.post('/api/automations/test', async (req) => {
    const body = parseInput(TestBodySchema, req.body);
    const doc = validateNested(body.automation, 'automation');
    const events = body.events.length > 0 ? normalizeEvents(body.events, { maxPayloadBytes: rt.config.maxPayloadBytes }) : [];
    return dryRun(doc, events, { until: body.until ? Date.parse(body.until) : undefined, maxPayloadBytes: rt.config.maxPayloadBytes });
  });

  docs.add({ method: 'post', path: '/api/automations/backtest', summary: 'Replay stored events of a time range through a draft automation (dry run)', tags, body: BacktestBodySchema, response: DryRunResponseSchema });
  app.post('/api/automations/backtest', async (req) => {
    const body = parseInput(BacktestBodySchema, req.body);
    const doc = validateNested(body.automation, 'automation');
    if (Date.parse(body.occurred_before) <= Date.parse(body.occurred_after)) {
      throw new ValidationError('occurred_before must be after occurred_after', [{ path: 'occurred_before', message: 'must be after occurred_after' }]);
    }
    const events = await storedEvents(rt, doc, body.occurred_after, body.occurred_before, body.limit);
    return dryRun(doc, events, { until: Date.parse(body.occurred_before), maxPayloadBytes: rt.config.maxPayloadBytes });
  });
};
