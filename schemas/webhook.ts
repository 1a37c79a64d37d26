import { z } from 'zod';

/**
 * The webhook API's wire shapes: the delivery log (outgoing) and incoming endpoints. The routes validate
 * and document with these, and they are published as JSON Schema (schemas/index.ts).
 */

export const DeliveryStatus = { pending: 'pending', retrying: 'retrying', succeeded: 'succeeded', failed: 'failed' } as const;
export type DeliveryStatus = (typeof DeliveryStatus)[keyof typeof DeliveryStatus];
export const DELIVERY_STATUSES = Object.values(DeliveryStatus) as [DeliveryStatus, ...DeliveryStatus[]];

export const AttemptOutcome = { succeeded: 'succeeded', retry: 'retry', failed: 'failed' } as const;
export type AttemptOutcome = (typeof AttemptOutcome)[keyof typeof AttemptOutcome];

export const WebhookAttemptSchema = z.object({
  series: z.number().int().describe('1 for the first series; each replay starts the next.'),
  attempt: z.number().int().describe('1-based within the series.'),
  started: z.string().describe('ISO-8601 time the request was started.'),
  status_code: z.number().int().nullable().describe('HTTP status; null when no response came (network error, timeout, refused destination).'),
  latency_ms: z.number(),
  response_headers: z.record(z.string(), z.string()).nullable(),
  response_body: z.string().nullable().describe('The first 4 KiB of the response body.'),
  error: z.string().nullable(),
  outcome: z.enum(Object.values(AttemptOutcome) as [AttemptOutcome, ...AttemptOutcome[]]),
});

export const WebhookDeliverySchema = z
  .object({
    id: z.string(),
    automation_id: z.string().nullable(),
    firing_id: z.string().nullable(),
    event_id: z.string().nullable().describe('The triggering event.'),
    url: z.string(),
    method: z.string(),
    headers: z.record(z.string(), z.string()),
    body: z.string(),
    format: z.enum(['json', 'cloudevent']),
    signed: z.boolean().describe('Whether a secret signs the requests; the secret itself is never returned.'),
    status: z.enum(DELIVERY_STATUSES),
    series: z.number().int(),
    attempt_count: z.number().int().describe('Attempts over every series.'),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
    created: z.string(),
    updated: z.string(),
    attempts: z.array(WebhookAttemptSchema).optional().describe('Only in GET /api/webhook-deliveries/{id}.'),
  })
  .describe('An outgoing webhook delivery as the delivery log shows it.');

export const Verification = { none: 'none', standardWebhooks: 'standard-webhooks', github: 'github' } as const;
export type Verification = (typeof Verification)[keyof typeof Verification];
export const VERIFICATIONS = Object.values(Verification) as [Verification, ...Verification[]];

export const WebhookEndpointInputSchema = z
  .object({
    name: z.string().min(1).max(200).describe('Unique name of the endpoint.'),
    template: z.string().min(1).nullable().optional().describe('Liquid template rendering the event JSON; context: body, headers, query, method.'),
    secret: z.string().min(1).nullable().optional().describe('Verifies senders; never returned.'),
    verification: z
      .enum(VERIFICATIONS)
      .optional()
      .describe('`none`, `standard-webhooks` or `github`; defaults to `standard-webhooks` when a secret is given, else `none`.'),
  })
  .describe('Body of POST /api/webhooks: an incoming webhook endpoint.');

export const WebhookEndpointSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    slug: z.string(),
    url: z.string().describe('`<REFLEX_PUBLIC_URL>/hooks/<slug>`: give this to the sender.'),
    template: z.string().nullable(),
    verification: z.enum(VERIFICATIONS),
    has_secret: z.boolean(),
    created: z.string(),
  })
  .describe('An incoming webhook endpoint as the API shows it (never with its secret).');

export const FailedRequestSchema = z.object({
  id: z.string(),
  endpoint_id: z.string(),
  received: z.string(),
  method: z.string(),
  headers: z.record(z.string(), z.string()),
  query: z.record(z.string(), z.unknown()),
  body: z.string(),
  reason: z.string(),
});
