import { z } from 'zod';
import { ActionSchema, AutomationInputSchema, AutomationSchema, TriggerSchema } from '../../schemas/automation.ts';
import { ErrorResponseSchema } from '../../schemas/common.ts';
import { DeploymentSchema, WorkPoolSchema } from '../../schemas/deployment.ts';
import { StoredEventSchema } from '../../schemas/event-filter.ts';
import { EventSchema } from '../../schemas/event.ts';
import { FlowRunSchema, StateSchema, TaskRunSchema } from '../../schemas/flow-run.ts';
import { WebhookDeliverySchema, WebhookEndpointSchema } from '../../schemas/webhook.ts';

/**
 * The named components of the OpenAPI document: each of these schemas appears once under
 * `components.schemas` and is referenced wherever a route uses it (the recursive Trigger must be, or its
 * references would point nowhere). A registry of the API's own, not zod's global one, so the published
 * JSON Schema files are generated the same whatever else a process loaded. An input variant is named
 * `<id>Input`.
 */
export const apiComponents = z.registry<{ id: string }>();

const COMPONENTS: Record<string, z.ZodType> = {
  Trigger: TriggerSchema,
  Action: ActionSchema,
  AutomationDocument: AutomationInputSchema,
  Automation: AutomationSchema,
  Event: EventSchema,
  StoredEvent: StoredEventSchema,
  State: StateSchema,
  FlowRun: FlowRunSchema,
  TaskRun: TaskRunSchema,
  Deployment: DeploymentSchema,
  WorkPool: WorkPoolSchema,
  WebhookDelivery: WebhookDeliverySchema,
  WebhookEndpoint: WebhookEndpointSchema,
  Error: ErrorResponseSchema,
};
for (const [id, schema] of Object.entries(COMPONENTS)) apiComponents.add(schema, { id });
