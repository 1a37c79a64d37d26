import type { RouteModule } from '../app.ts';
import { eventIngestRoutes } from './events.ts';
import { healthRoutes } from './health.ts';

/** Every route module of the API, in registration order. Each feature adds its module here. */
export const routeModules: RouteModule[] = [healthRoutes, eventIngestRoutes];
