import { automationSummaries } from '../../modules/automations/index.ts';
import { failedDeliveriesByAutomation } from '../../modules/webhooks/index.ts';
import type { Pool } from '../../infra/db.ts';
import type { AutomationSummary } from '../../schemas/dashboard.ts';

/**
 * Automations with what failed of their work in a time range: the failed action outcomes of their firings
 * (automations module) and the webhook deliveries their actions queued that failed for good (webhooks
 * module). A call-webhook action succeeds once its delivery is queued, so an automation whose receiver is
 * down has no failed action; it is failing all the same, and its failed deliveries say so.
 */
export async function automationHealth(pg: Pool, since: string, until: string): Promise<AutomationSummary[]> {
  const [summaries, failedDeliveries] = await Promise.all([automationSummaries(pg, since, until), failedDeliveriesByAutomation(pg, since, until)]);
  return summaries.map((s) => ({ ...s, failed_deliveries: failedDeliveries.get(s.id) ?? 0 }));
}
