import { z } from 'zod';
import { NotFoundError } from '../../../core/errors.ts';
import { firingHistory, getFiring } from '../../../modules/automations/index.ts';
import { attemptsWithRequests } from '../../../modules/webhooks/index.ts';
import { AttemptWithRequestSchema, AutomationSummarySchema, FiringViewSchema } from '../../../schemas/dashboard.ts';
import { automationHealth } from '../automation-health.ts';
import type { RouteModule } from '../route-module.ts';
import { DAY_MS, resolveRange, TimeRangeQuery } from '../time-range.ts';

const SummaryQuery = z.object({ ...TimeRangeQuery }).strict();
const SummaryPageSchema = z.object({ items: z.array(AutomationSummarySchema), next_cursor: z.null(), since: z.string(), until: z.string() });
const FiringsQuery = z
  .object({
    automation_id: z.uuid(),
    ...TimeRangeQuery,
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(200).optional(),
  })
  .strict();
const IdParams = z.object({ id: z.string().min(1).max(200) });

/** Automations at a glance, firings with their buckets and outcomes, and delivery attempts with the request sent. */
export const automationSummaryRoutes: RouteModule = (app, { rt }) => {
  app.get(
    '/api/automations/summary',
    {
      schema: {
        operationId: 'summarizeAutomations',
        tags: ['automations'],
        summary: 'Every automation with its last firing, and the firings, failed actions and failed deliveries of a time range (at most 90 days)',
        querystring: SummaryQuery,
        response: { 200: SummaryPageSchema },
      },
    },
    async (req) => {
      const range = resolveRange(req.query, 90 * DAY_MS);
      return { items: await automationHealth(rt.pg, range.since, range.until), next_cursor: null, ...range };
    },
  );

  app.get(
    '/api/automation-firings',
    {
      schema: {
        operationId: 'searchAutomationFirings',
        tags: ['automations'],
        summary: "An automation's firings of a time range (default the last 24 h, at most 400 days), newest first, with bucket and outcomes",
        querystring: FiringsQuery,
        response: { 200: z.object({ items: z.array(FiringViewSchema), next_cursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const range = resolveRange(req.query, 400 * DAY_MS);
      return firingHistory(rt.pg, { automation_id: req.query.automation_id, ...range, limit: req.query.limit, cursor: req.query.cursor });
    },
  );

  app.get(
    '/api/automation-firings/:id',
    {
      schema: {
        operationId: 'getAutomationFiring',
        tags: ['automations'],
        summary: 'One firing with its automation name, bucket and outcomes',
        params: IdParams,
        response: { 200: FiringViewSchema.extend({ automation_name: z.string().nullable() }) },
      },
    },
    async (req) => {
      const firing = await getFiring(rt.pg, req.params.id);
      if (!firing) throw new NotFoundError('firing', req.params.id);
      return firing;
    },
  );

  app.get(
    '/api/webhook-deliveries/:id/attempts',
    {
      schema: {
        operationId: 'listWebhookDeliveryAttempts',
        tags: ['webhooks'],
        summary: 'Every attempt of a delivery with the request headers it sent (signature masked)',
        params: IdParams,
        response: { 200: z.object({ items: z.array(AttemptWithRequestSchema), next_cursor: z.null() }) },
      },
    },
    async (req) => {
      const items = await attemptsWithRequests(rt.pg, req.params.id);
      if (!items) throw new NotFoundError('webhook delivery', req.params.id);
      return { items, next_cursor: null };
    },
  );
};
