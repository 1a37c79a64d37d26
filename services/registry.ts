import type { Runtime } from '../infra/runtime.ts';
import { createApiService } from './api/main.ts';
import { createAutomationsService } from './automations/main.ts';
import type { Modules } from './modules.ts';
import { createOutboxService } from './outbox/main.ts';
import { createRecorderService } from './recorder/main.ts';
import { createSchedulerService } from './scheduler/main.ts';
import type { Service } from './service.ts';
import { createWebhooksService } from './webhooks/main.ts';
import { createDefaultWorkerService } from './worker/main.ts';

/**
 * Every deployable service, in start order: this list is what `reflex start` runs (all of them) and what
 * `reflex start <name>` chooses from. Each folder of services/ is one of them, wired by its main.ts.
 * Services stop in reverse order.
 */
export const SERVICES = {
  recorder: createRecorderService,
  automations: createAutomationsService,
  outbox: createOutboxService,
  scheduler: createSchedulerService,
  worker: createDefaultWorkerService,
  webhooks: createWebhooksService,
  api: createApiService,
} satisfies Record<string, (rt: Runtime, modules: Modules) => Service | Promise<Service>>;

export type ServiceName = keyof typeof SERVICES;
export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];
