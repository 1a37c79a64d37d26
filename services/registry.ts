import type { Runtime, Service } from '../infra/runtime.ts';
import { createApiService } from './api/main.ts';
import { createAutomationsService } from './automations/main.ts';
import { createOutboxService } from './outbox/main.ts';
import { createWebhooksService } from './webhooks/main.ts';
import { createRecorderService } from './recorder/main.ts';
import { createSchedulerService } from './scheduler/main.ts';
import { createDefaultWorkerService } from './worker/main.ts';

/**
 * Every deployable service, in start order. `reflex start` runs them all in one process;
 * `reflex start <name>` runs one, for scale-out. Services stop in reverse order.
 */
export const SERVICES = {
  recorder: createRecorderService,
  automations: createAutomationsService,
  outbox: createOutboxService,
  scheduler: createSchedulerService,
  worker: createDefaultWorkerService,
  webhooks: createWebhooksService,
  api: createApiService,
} satisfies Record<string, (rt: Runtime) => Service | Promise<Service>>;

export type ServiceName = keyof typeof SERVICES;
export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];
