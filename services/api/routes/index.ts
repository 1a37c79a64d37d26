import type { RouteModule } from '../route-module.ts';
import { automationSummaryRoutes } from './automation-summary.ts';
import { automationRoutes } from './automations.ts';
import { concurrencyLimitRoutes } from './concurrency-limits.ts';
import { dashboardRoutes } from './dashboard.ts';
import { deadLetterRoutes } from './dead-letters.ts';
import { deploymentRoutes } from './deployments.ts';
import { eventQueryRoutes } from './event-queries.ts';
import { eventStreamRoutes } from './event-stream.ts';
import { eventIngestRoutes } from './events.ts';
import { flowRunRoutes } from './flow-runs.ts';
import { healthRoutes } from './health.ts';
import { incomingWebhookRoutes } from './incoming-webhooks.ts';
import { liveRoutes } from './live.ts';
import { metricsRoutes } from './metrics.ts';
import { overviewRoutes } from './overview.ts';
import { runSearchRoutes } from './run-search.ts';
import { sessionRoutes } from './session.ts';
import { webhookDeliveryRoutes } from './webhook-deliveries.ts';
import { workPoolStatusRoutes } from './work-pool-status.ts';
import { workPoolRoutes } from './work-pools.ts';
// flow authors (issue 13)
import { artifactRoutes } from './artifacts.ts';
import { flowRunWaitRoutes } from './flow-run-waits.ts';
// Secrets and variables (issue 13).
import { secretRoutes } from './secrets.ts';
import { variableRoutes } from './variables.ts';

/** Every route module of the API, in registration order. Each feature adds its module here. */
export const routeModules: RouteModule[] = [
  healthRoutes,
  eventIngestRoutes,
  eventQueryRoutes,
  eventStreamRoutes,
  deploymentRoutes,
  flowRunRoutes,
  workPoolRoutes,
  concurrencyLimitRoutes,
  automationRoutes,
  webhookDeliveryRoutes,
  incomingWebhookRoutes,
  deadLetterRoutes,
  // What the dashboard reads beyond the resource APIs (documented, usable by any script), and its shell.
  sessionRoutes,
  liveRoutes,
  runSearchRoutes,
  overviewRoutes,
  workPoolStatusRoutes,
  automationSummaryRoutes,
  dashboardRoutes,
  // Prometheus metrics (issue 14).
  metricsRoutes,
  // flow authors (issue 13): artifacts, pause/resume
  artifactRoutes,
  flowRunWaitRoutes,
  // Secrets and variables (issue 13).
  secretRoutes,
  variableRoutes,
];
