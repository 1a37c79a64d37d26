import type { RouteModule } from '../app.ts';
import { concurrencyLimitRoutes } from './concurrency-limits.ts';
import { deploymentRoutes } from './deployments.ts';
import { eventIngestRoutes } from './events.ts';
import { flowRunRoutes } from './flow-runs.ts';
import { healthRoutes } from './health.ts';
import { workPoolRoutes } from './work-pools.ts';

/** Every route module of the API, in registration order. Each feature adds its module here. */
export const routeModules: RouteModule[] = [healthRoutes, eventIngestRoutes, deploymentRoutes, flowRunRoutes, workPoolRoutes, concurrencyLimitRoutes];
