import { z } from 'zod';
import { EventSchema } from './event.ts';
import { FiringRecordSchema } from './firing.ts';
import { StateTypeSchema } from './flow-run.ts';

/**
 * The read models of the endpoints the dashboard reads beyond the resource APIs: slim run rows, activity
 * per state, run causes, log search, work-pool status, deployment plans, limit holders, automation
 * summaries, firings with their bucket, delivery attempts with the request sent, and the overview. The
 * routes answer them, the modules build them, and the dashboard's client takes its types from them, so
 * the three cannot drift. Any script can use these endpoints as well.
 */

const SlimStateSchema = z.object({ type: StateTypeSchema, name: z.string(), timestamp: z.string(), message: z.string().nullable() });

export const RunRowSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    flow_name: z.string(),
    deployment_id: z.string().nullable(),
    deployment_name: z.string().nullable(),
    work_pool: z.string().nullable(),
    parent_flow_run_id: z.string().nullable(),
    tags: z.array(z.string()),
    state: SlimStateSchema,
    run_count: z.number().int(),
    created: z.string(),
    expected_start_time: z.string().nullable(),
    start_time: z.string().nullable(),
    end_time: z.string().nullable(),
    total_run_time_seconds: z.number(),
  })
  .describe('A flow run as a list shows it: no parameters or result.');
export type RunRow = z.output<typeof RunRowSchema>;

const RangeFields = { since: z.string(), until: z.string() };

export const RunRowPageSchema = z.object({ items: z.array(RunRowSchema), next_cursor: z.string().nullable(), ...RangeFields });

const CountsSchema = z.partialRecord(StateTypeSchema, z.number().int()).describe('Runs per current state type; absent types are 0.');
export const RunHistorySchema = z.object({
  ...RangeFields,
  buckets: z.array(z.object({ start: z.string(), end: z.string(), counts: CountsSchema })),
  totals: CountsSchema,
  late: z.number().int().describe('Runs of the range in SCHEDULED/Late now.'),
});
export type RunHistory = z.output<typeof RunHistorySchema>;

/** What started a run. */
export const RunCauseKind = { automation: 'automation', schedule: 'schedule', subflow: 'subflow', manual: 'manual', direct: 'direct' } as const;
export type RunCauseKind = (typeof RunCauseKind)[keyof typeof RunCauseKind];

export const RunCauseSchema = z
  .object({
    kind: z.enum(Object.values(RunCauseKind) as [RunCauseKind, ...RunCauseKind[]]),
    automation: z.object({ id: z.string(), name: z.string().nullable().describe('Null when the automation was deleted since.') }).nullable(),
    firing: z.object({ id: z.string(), fired_at: z.string(), trigger_path: z.string(), bucket_key: z.string(), count: z.number().int() }).nullable(),
    event: z.object({ id: z.string(), event: z.string(), occurred: z.string(), resource_id: z.string() }).nullable(),
    scheduled_for: z.string().nullable().describe('For schedule runs: the start time the schedule asked for.'),
    parent_flow_run: z.object({ id: z.string(), name: z.string() }).nullable(),
  })
  .describe('What started a run: an automation (with its firing and triggering event), a schedule, a parent run, a manual API call, or a direct call in a script.');
export type RunCause = z.output<typeof RunCauseSchema>;

export const LogSearchLineSchema = z.object({
  id: z.string(),
  flow_run_id: z.string(),
  task_run_id: z.string().nullable(),
  level: z.number().int(),
  message: z.string(),
  timestamp: z.string(),
  fields: z.record(z.string(), z.unknown()),
});
export type LogSearchLine = z.output<typeof LogSearchLineSchema>;
export const LogSearchPageSchema = z.object({
  items: z.array(LogSearchLineSchema),
  next_cursor: z.string().nullable().describe('The last line id: poll with it to follow a running flow.'),
  more: z.boolean().describe('Whether more lines match right now.'),
});
export type LogSearchPage = z.output<typeof LogSearchPageSchema>;

export const WorkerPresenceSchema = z.object({
  id: z.string(),
  pool: z.string(),
  hostname: z.string(),
  pid: z.number().int(),
  concurrency: z.number().int(),
  started: z.string(),
  last_heartbeat: z.string(),
  heartbeat_seconds: z.number(),
});
export type WorkerPresenceRecord = z.output<typeof WorkerPresenceSchema>;

export const WorkPoolStatusSchema = z.object({
  name: z.string(),
  description: z.string().nullable(),
  concurrency_limit: z.number().int().nullable(),
  paused: z.boolean(),
  queue: z
    .object({ waiting: z.number().int(), active: z.number().int(), delayed: z.number().int(), failed: z.number().int(), prioritized: z.number().int() })
    .describe("BullMQ job counts of the pool's queue."),
  workers: z.array(WorkerPresenceSchema.extend({ online: z.boolean().describe('Heard from within three heartbeat intervals.') })).describe('Workers seen in the last day, newest heartbeat first.'),
  runs: z.object({ pending: z.number().int(), running: z.number().int(), late: z.number().int() }),
});
export type WorkPoolStatus = z.output<typeof WorkPoolStatusSchema>;

export const DeploymentPlanSchema = z.object({
  schedules: z.array(z.object({ index: z.number().int(), active: z.boolean(), description: z.string(), next: z.array(z.string()) })),
  scheduled_runs: z.array(z.object({ id: z.string(), name: z.string(), state_name: z.string(), scheduled_time: z.string().nullable() })),
});
export type DeploymentPlan = z.output<typeof DeploymentPlanSchema>;

export const SlotHolderSchema = z.object({
  lease_id: z.string(),
  slots: z.number().int(),
  expires: z.string().describe('When the lease lapses unless its holder renews it.'),
});
export type SlotHolder = z.output<typeof SlotHolderSchema>;

export const AutomationSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  enabled: z.boolean(),
  trigger_type: z.string(),
  action_types: z.array(z.string()),
  last_fired_at: z.string().nullable(),
  firings: z.number().int().describe('Firings in the range.'),
  failed_actions: z.number().int().describe('Failed action outcomes of those firings.'),
  failed_deliveries: z.number().int().describe("Webhook deliveries its call-webhook actions made in the range that failed for good (the action itself succeeded: it queued them)."),
});
export type AutomationSummary = z.output<typeof AutomationSummarySchema>;

export const FiringViewSchema = FiringRecordSchema.extend({
  bucket_key: z.string().describe('The bucket the firing counted in (its labels joined).'),
  triggering_event: EventSchema.nullable().describe('The event that completed the firing; null for a proactive one (nothing arrived).'),
});
export type FiringView = z.output<typeof FiringViewSchema>;

export const AttemptWithRequestSchema = z.object({
  series: z.number().int(),
  attempt: z.number().int(),
  started: z.string(),
  status_code: z.number().int().nullable(),
  latency_ms: z.number(),
  request_headers: z.record(z.string(), z.string()).describe('As sent; the signature is masked.'),
  response_headers: z.record(z.string(), z.string()).nullable(),
  response_body: z.string().nullable().describe('The first 4 KiB.'),
  error: z.string().nullable(),
  outcome: z.string(),
});
export type AttemptWithRequest = z.output<typeof AttemptWithRequestSchema>;

export const FailingReceiverSchema = z.object({ host: z.string(), failed: z.number().int(), retrying: z.number().int(), last: z.string() });
export type FailingReceiver = z.output<typeof FailingReceiverSchema>;
export const FailingEndpointSchema = z.object({ id: z.string(), name: z.string(), failed: z.number().int(), last: z.string() });
export type FailingEndpoint = z.output<typeof FailingEndpointSchema>;

export const OverviewSchema = z.object({
  ...RangeFields,
  late_runs: z.array(RunRowSchema).describe('Up to 10 runs of the range now SCHEDULED/Late, newest first.'),
  failing_automations: z
    .array(AutomationSummarySchema.pick({ id: true, name: true, enabled: true, firings: true, failed_actions: true, failed_deliveries: true, last_fired_at: true }))
    .describe('Automations with a failed action or a failed delivery in the range, most failures first.'),
  failing_receivers: z.array(FailingReceiverSchema).describe('Outgoing webhook destinations with failed or retrying deliveries.'),
  failing_endpoints: z.array(FailingEndpointSchema).describe('Incoming webhook endpoints with failed requests.'),
});
export type Overview = z.output<typeof OverviewSchema>;

export const SessionSchema = z.object({
  auth_required: z.boolean().describe('Whether REFLEX_API_KEY is set, so every API call needs the key or a session.'),
  authenticated: z.boolean().describe('Whether this request carried the key or a valid session cookie.'),
});
export type Session = z.output<typeof SessionSchema>;
