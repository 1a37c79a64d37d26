import { z } from 'zod';
import { searchFlowRuns } from '../../../modules/runs/index.ts';
import { failingEndpoints, failingReceivers } from '../../../modules/webhooks/index.ts';
import { OverviewSchema } from '../../../schemas/dashboard.ts';
import { automationHealth } from '../automation-health.ts';
import type { RouteModule } from '../route-module.ts';
import { DAY_MS, resolveRange, TimeRangeQuery } from '../time-range.ts';

const OverviewQuery = z.object({ ...TimeRangeQuery }).strict();

/** What needs attention over a time range (at most 90 days): Late runs, failing automations and webhooks. */
export const overviewRoutes: RouteModule = (app, { rt }) => {
  app.get(
    '/api/overview',
    {
      schema: {
        operationId: 'getOverview',
        tags: ['overview'],
        summary: 'What needs attention in a time range: Late runs, automations with failed actions or deliveries, failing webhook receivers and endpoints',
        querystring: OverviewQuery,
        response: { 200: OverviewSchema },
      },
    },
    async (req) => {
      const range = resolveRange(req.query, 90 * DAY_MS);
      const [late, automations, receivers, endpoints] = await Promise.all([
        searchFlowRuns(rt.pg, { ...range, state: ['Late'], limit: 10 }),
        automationHealth(rt.pg, range.since, range.until),
        failingReceivers(rt.pg, range.since, range.until),
        failingEndpoints(rt.pg, range.since, range.until),
      ]);
      const failures = (a: { failed_actions: number; failed_deliveries: number }) => a.failed_actions + a.failed_deliveries;
      return {
        ...range,
        late_runs: late.items,
        failing_automations: automations
          .filter((a) => failures(a) > 0)
          .sort((a, b) => failures(b) - failures(a) || a.name.localeCompare(b.name))
          .map(({ id, name, enabled, firings, failed_actions, failed_deliveries, last_fired_at }) => ({ id, name, enabled, firings, failed_actions, failed_deliveries, last_fired_at })),
        failing_receivers: receivers,
        failing_endpoints: endpoints,
      };
    },
  );
};
