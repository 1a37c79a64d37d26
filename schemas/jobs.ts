import { z } from 'zod';
import { ActionSchema, type Action } from './automation.ts';
import { RetryPolicySchema } from './common.ts';
import { EventSchema, type ReflexEvent } from './event.ts';

/**
 * The enqueue contracts between services: the automations service produces these BullMQ jobs, and the
 * service named on each consumes them. The BullMQ job id is always the `idempotency_key`, so a firing
 * that is processed twice enqueues each job once.
 */

/** Queue `webhook-deliveries`, consumed by the webhook service. Everything is already rendered. */
export const WebhookDeliveryJobSchema = z.object({
  delivery_id: z.string().min(1).describe('Stable id of this delivery; also the `webhook-id` header.'),
  idempotency_key: z.string().min(1),
  url: z
    .string()
    .min(1)
    .refine((u) => u.includes('[[reflex-secret:') || URL.canParse(u), 'must be a URL')
    .describe('A URL, or one holding secret markers (checked as a URL once they are filled in).'),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
  headers: z.record(z.string(), z.string()).default({}),
  body: z
    .string()
    .refine((b) => !b.includes('\u0000'), 'must not contain NUL characters (the delivery log cannot store them; escape them in JSON as \\u0000)')
    .describe('Exact bytes to send (UTF-8); a retry sends the same.'),
  secret: z.string().optional().describe('`whsec_<base64>` signing secret; never logged or returned.'),
  timeout_seconds: z.number().positive().max(300).default(10),
  retry: RetryPolicySchema.default({ attempts: 8, delay_seconds: 5 }),
  format: z
    .enum(['json', 'cloudevent'])
    .default('json')
    .describe(
      'How `body` was built; the producer renders it. `cloudevent`: `body` is the triggering event as a structured-mode CloudEvent 1.0 JSON, and the webhook service sends it with `content-type: application/cloudevents+json` (`json`: `application/json`) unless `headers` sets a content type.',
    ),
  automation_id: z.string().nullable().default(null),
  firing_id: z.string().nullable().default(null),
  event_id: z.string().nullable().default(null),
  chain: z
    .array(z.string())
    .max(16)
    .default([])
    .describe('Resource ids of the automations that caused the delivery; its outcome events carry them, so the loop guard sees the chain.'),
  // Secrets (issue 13).
  secret_refs: z
    .object({
      nonce: z.string().regex(/^[0-9a-f]{32}$/),
      body_encoding: z.enum(['raw', 'json']).default('raw').describe('`json`: markers in the body sit inside JSON strings, so values are filled in JSON-escaped.'),
    })
    .optional()
    .describe('Present when url, headers, body or secret hold `[[reflex-secret:NAME:<nonce>]]` markers: the webhook service fills them in at send time, for the automation the secrets are granted to.'),
});
export type WebhookDeliveryJob = z.output<typeof WebhookDeliveryJobSchema>;

/** What travels on the webhook-deliveries queue: the contract plus which series and attempt this job is. */
export const DeliveryAttemptJobSchema = WebhookDeliveryJobSchema.extend({
  series: z.number().int().min(1).default(1),
  attempt: z.number().int().min(1).default(1),
  /** Failures of Reflex's own (delivery log unreachable), which do not spend the receiver's attempts. */
  service_failures: z.number().int().min(0).optional(),
  /** W3C trace context of the span that enqueued the job (tracing on only; infra/tracing.ts). */
  traceparent: z.string().max(256).optional(),
});
export type DeliveryAttemptJob = z.output<typeof DeliveryAttemptJobSchema>;

/** What made a command: the automation, its firing and the triggering event (a run it creates records them, migration 0040). */
export const TriggeredBySchema = z.object({
  automation_id: z.string().nullable().default(null),
  firing_id: z.string().nullable().default(null),
  event_id: z.string().nullable().default(null),
});
export type TriggeredBy = z.output<typeof TriggeredBySchema>;

const DeploymentRefSchema = z
  .object({ deployment_id: z.string().optional(), deployment_name: z.string().optional() })
  .refine((d) => d.deployment_id || d.deployment_name, { message: 'deployment_id or deployment_name is required' });

/**
 * A flow-run command: what an automation's run-deployment, cancel-flow-run, change-flow-run-state and
 * pause/resume-deployment actions render, executed by the orchestration module (recorded in the action's
 * outcome).
 */
export const FlowRunCommandJobSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('run-deployment'),
    idempotency_key: z.string().min(1),
    deployment_id: z.string().optional(),
    deployment_name: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).default({}),
    tags: z.array(z.string()).default([]),
    triggered_by: TriggeredBySchema,
    // run control (issue 15)
    priority: z.number().int().min(-1000).max(1000).optional(),
    concurrency_key: z.string().max(512).optional(),
  }),
  z.object({
    type: z.literal('cancel-flow-run'),
    idempotency_key: z.string().min(1),
    flow_run_id: z.string(),
    message: z.string().optional(),
    triggered_by: TriggeredBySchema,
  }),
  z.object({
    type: z.literal('change-flow-run-state'),
    idempotency_key: z.string().min(1),
    flow_run_id: z.string(),
    state: z.object({ type: z.string(), name: z.string().optional(), message: z.string().optional() }),
    force: z.boolean().default(false),
    triggered_by: TriggeredBySchema,
  }),
  z.object({
    type: z.enum(['pause-deployment', 'resume-deployment']),
    idempotency_key: z.string().min(1),
    deployment_id: z.string().optional(),
    deployment_name: z.string().optional(),
    triggered_by: TriggeredBySchema,
  }),
]);
export type FlowRunCommandJob = z.output<typeof FlowRunCommandJobSchema>;
export { DeploymentRefSchema, RetryPolicySchema };

/**
 * Queue `work-pool-<pool>`, consumed by workers of that pool; job name `flow-run`. Job id =
 * `flowRunJobId(flow_run_id, attempt)` (BullMQ forbids ':' in ids), so enqueueing the same attempt twice is a no-op.
 */
export const FlowRunJobSchema = z.object({
  flow_run_id: z.string(),
  flow_name: z.string(),
  /** Incremented per retry so a retried run gets a fresh BullMQ job id (`<flow_run_id>-<attempt>`). */
  attempt: z.number().int().min(1).default(1),
  /** W3C trace context of the span that enqueued the job (tracing on only; infra/tracing.ts). */
  traceparent: z.string().max(256).optional(),
  /**
   * What the worker needs of the run before claiming it (its slot check, a retry's job), copied from its
   * row (fields that never change after creation), so the worker claims the run without reading it first. Absent on jobs of older versions and
   * of callers that did not have the record: the worker reads the run then.
   */
  run: z
    .object({
      deployment_id: z.string().nullable(),
      work_pool: z.string().nullable(),
      concurrency_key: z.string().nullable(),
      created: z.string(),
      priority: z.number().int(),
    })
    .optional(),
});
export type FlowRunJob = z.output<typeof FlowRunJobSchema>;

/** The BullMQ job id of a flow run's attempt: `<flow_run_id>-<attempt>`. */
export function flowRunJobId(flowRunId: string, attempt: number): string {
  return `${flowRunId}-${attempt}`;
}

/** One firing of an automation's trigger, as the evaluator produces it and an action job carries it. */
/** What flow control did to a firing (absent: the automation has none). */
export const FlowControlInfoSchema = z.object({
  mode: z.enum(['debounce', 'throttle', 'rate_limit', 'batch']),
  /** The rendered key (empty: one key for the automation). */
  key: z.string(),
  /** Why it was released or dropped, e.g. `quiet period`, `max_delay`, `max_size`, `timeout`, `slot`, `rate limit`. */
  reason: z.string(),
  /** When flow control meant to release it (ISO); the difference to the dispatch is the engine's own delay. */
  due: z.string().nullable(),
  /** How long it was held beyond its triggering event, ms. */
  delayed_ms: z.number(),
  /** Ids of every event of the window or batch (debounce, batch). */
  event_ids: z.array(z.string()).optional(),
  /** Matching events counted but suppressed (leading debounce) in the window. */
  suppressed: z.number().optional(),
});
export type FlowControlInfo = z.output<typeof FlowControlInfoSchema>;

export const FiringSchema = z.object({
  /** Deterministic UUID derived from `key`. */
  id: z.string(),
  /** Deterministic firing key (hashed): automation, trigger hash, path, bucket, window/sequence. */
  key: z.string(),
  automation_id: z.string(),
  /** `rate-limited`: flow control dropped it; it runs no actions and is recorded as such. */
  state: z.enum(['triggered', 'resolved', 'rate-limited']),
  trigger_path: z.string(),
  bucket_key: z.string(),
  triggering_labels: z.record(z.string(), z.string()),
  triggering_event: EventSchema.nullable(),
  count: z.number(),
  window_start: z.string().nullable(),
  window_end: z.string().nullable(),
  fired_at: z.string(),
  /** Every event of a debounce window or batch, in event time order (the `events` template variable). */
  events: z.array(EventSchema).optional(),
  flow_control: FlowControlInfoSchema.optional(),
});
export type Firing = z.output<typeof FiringSchema> & { triggering_event: ReflexEvent | null; events?: ReflexEvent[] };

/**
 * Queue `automation-actions`, consumed by the automations service's executor: an action of a firing that
 * met an infrastructure error when the dispatcher performed it, retried with backoff. Job name = the
 * action's type; job id = `<firing id>-<action index>`. Everything the executor needs, no lookups.
 */
export const ActionJobSchema = z.object({
  firing: FiringSchema,
  automation: z.object({ id: z.string(), name: z.string(), description: z.string(), tags: z.array(z.string()) }),
  action: ActionSchema,
  index: z.number().int().min(0),
  /** Types of all actions of the firing (the executor may create the firing row). */
  action_types: z.array(z.string()),
  /** W3C trace context of the span that enqueued the job (tracing on only; infra/tracing.ts). */
  traceparent: z.string().max(256).optional(),
});
export type ActionJobData = Omit<z.output<typeof ActionJobSchema>, 'firing' | 'action'> & { firing: Firing; action: Action };
