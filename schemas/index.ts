import type { z } from 'zod';
import { AutomationInputSchema } from './automation.ts';
import { ErrorResponseSchema } from './common.ts';
import { DeploymentFileSchema, DeploymentInputSchema, DeploymentSchema } from './deployment.ts';
import { EventInputSchema, EventSchema } from './event.ts';
import { CountByRequestSchema, EventFilterSchema, StoredEventSchema } from './event-filter.ts';
import { FlowRunSchema, TaskRunSchema } from './flow-run.ts';
import { FlowRunCommandJobSchema, FlowRunJobSchema, WebhookDeliveryJobSchema } from './jobs.ts';
import { SecretInputSchema, SecretSchema, VariableInputSchema, VariableSchema } from './secret.ts';
import { WebhookDeliverySchema, WebhookEndpointInputSchema, WebhookEndpointSchema } from './webhook.ts';

/**
 * Every contract published as JSON Schema: `npm run schemas` writes `schemas/json/<name>.schema.json`
 * for each entry, and a test fails when a committed file differs from what the zod schema generates.
 */
export const PUBLISHED_SCHEMAS: Record<string, { schema: z.ZodType; io?: 'input' | 'output'; title: string }> = {
  event: { schema: EventSchema, io: 'output', title: 'Reflex event' },
  'event-input': { schema: EventInputSchema, io: 'input', title: 'Reflex event as a client sends it' },
  'stored-event': { schema: StoredEventSchema, io: 'output', title: 'Reflex event as the query API answers it' },
  'event-filter': { schema: EventFilterSchema, io: 'input', title: 'Body of POST /api/events/filter' },
  'event-count-by': { schema: CountByRequestSchema, io: 'input', title: 'Body of POST /api/events/count-by' },
  error: { schema: ErrorResponseSchema, io: 'output', title: 'API error answer' },
  'webhook-delivery-job': { schema: WebhookDeliveryJobSchema, io: 'input', title: 'Job on the webhook-deliveries queue' },
  'webhook-delivery': { schema: WebhookDeliverySchema, io: 'output', title: 'Outgoing webhook delivery (delivery log)' },
  'webhook-endpoint-input': { schema: WebhookEndpointInputSchema, io: 'input', title: 'Body of POST /api/webhooks' },
  'webhook-endpoint': { schema: WebhookEndpointSchema, io: 'output', title: 'Incoming webhook endpoint' },
  'flow-run-command-job': { schema: FlowRunCommandJobSchema, io: 'input', title: 'Flow-run command rendered by an automation action' },
  deployment: { schema: DeploymentSchema, io: 'output', title: 'Deployment' },
  'deployment-input': { schema: DeploymentInputSchema, io: 'input', title: 'Deployment as created through the API' },
  'deployment-file': { schema: DeploymentFileSchema, io: 'input', title: 'Deployment file applied by `reflex deploy`' },
  'flow-run': { schema: FlowRunSchema, io: 'output', title: 'Flow run' },
  'task-run': { schema: TaskRunSchema, io: 'output', title: 'Task run' },
  'flow-run-job': { schema: FlowRunJobSchema, io: 'input', title: 'Job on a work-pool queue (work-pool-<pool>)' },
  automation: { schema: AutomationInputSchema, io: 'input', title: 'Reflex automation (automations/*.json)' },
  // Secrets and variables (issue 13).
  'secret-input': { schema: SecretInputSchema, io: 'input', title: 'Body of POST /api/secrets' },
  secret: { schema: SecretSchema, io: 'output', title: 'Secret as the API shows it (never its value)' },
  'variable-input': { schema: VariableInputSchema, io: 'input', title: 'Body of POST /api/variables' },
  variable: { schema: VariableSchema, io: 'output', title: 'Variable' },
};
