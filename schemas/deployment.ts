import { Cron } from 'croner';
import { z } from 'zod';

/** Work-pool names become BullMQ queue names (`work-pool-<name>`), which cannot hold ':'. */
export const WorkPoolNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'must be letters, digits, "_" or "-" (at most 63), starting with a letter or digit')
  .describe('Work pool name; maps to the BullMQ queue `work-pool-<name>`.');

export const DeploymentNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'must be letters, digits, "_", "." or "-" (at most 128), starting with a letter or digit')
  .describe('Unique deployment name.');

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const CronScheduleSchema = z
  .object({
    cron: z.string().min(1).describe('Cron expression (5 fields, or 6 with seconds first), evaluated by croner.'),
    timezone: z.string().default('UTC').describe('IANA time zone the cron is read in, e.g. `Europe/Paris`.'),
    active: z.boolean().default(true),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (!isTimeZone(s.timezone)) {
      ctx.addIssue({ code: 'custom', path: ['timezone'], message: `unknown IANA time zone "${s.timezone}"` });
      return;
    }
    try {
      new Cron(s.cron, { timezone: s.timezone, paused: true });
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['cron'], message: `invalid cron expression: ${(err as Error).message}` });
    }
  });

export const IntervalScheduleSchema = z
  .object({
    interval_seconds: z.number().min(1).describe('Seconds between runs.'),
    anchor: z.iso.datetime({ offset: true }).optional().describe('A time the interval is counted from (default: 2020-01-01T00:00:00Z).'),
    active: z.boolean().default(true),
  })
  .strict();

export const ScheduleSchema = z.union([CronScheduleSchema, IntervalScheduleSchema]).describe('`{cron, timezone}` or `{interval_seconds, anchor}`.');
export type Schedule = z.output<typeof ScheduleSchema>;

// ---- run control (issue 15): concurrency keys, collision strategies, priority, SLAs ----

/** What a run does when its concurrency key has no free slot. */
export const CollisionStrategySchema = z
  .enum(['enqueue', 'cancel-new', 'cancel-in-progress'])
  .describe('`enqueue`: wait in order for a slot; `cancel-new`: the new run is cancelled; `cancel-in-progress`: the runs in flight are cancelled and the newest run wins.');
export type CollisionStrategy = z.output<typeof CollisionStrategySchema>;

export const DeploymentConcurrencySchema = z
  .object({
    key: z
      .string()
      .min(1)
      .max(2000)
      .describe('A Liquid template rendered when a run is created, over `parameters`, `tags` and `deployment` (`{{ parameters.customer_id }}`); runs with the same rendered key share `limit`.'),
    limit: z.number().int().min(1).max(10_000).default(1).describe('At most this many runs per key at once (the guaranteed floor of a key).'),
    burst: z
      .number()
      .int()
      .min(0)
      .max(10_000)
      .default(0)
      .describe('Runs a key may start above `limit` while the deployment-wide `concurrency_limit` has room and no other key waits below its floor (needs `concurrency_limit`).'),
    collision: CollisionStrategySchema.default('enqueue'),
  })
  .strict()
  .describe('Concurrency keys: at most `limit` runs per rendered `key` at once, beside the deployment-wide `concurrency_limit`.');
export type DeploymentConcurrency = z.output<typeof DeploymentConcurrencySchema>;

/** Reflex run priority: higher runs first within a work pool (mapped to BullMQ, where lower is first). */
export const RunPrioritySchema = z.number().int().min(-1000).max(1000).describe('-1000..1000, higher first within a work pool (default 0).');

const slaSeconds = z.number().int().min(1).max(366 * 24 * 3600);
export const DeploymentSlaSchema = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('time-to-completion'), seconds: slaSeconds.describe('A run must end within this long after it started running.') }).strict(),
    z.object({ type: z.literal('lateness'), seconds: slaSeconds.describe('A run must start within this long after its scheduled time.') }).strict(),
    z.object({ type: z.literal('frequency'), seconds: slaSeconds.describe('Some run must complete at least this often (no COMPLETED run for this long is a violation).') }).strict(),
    z
      .object({
        type: z.literal('freshness'),
        seconds: slaSeconds.describe('After the latest `event`, a run of the deployment must complete within this long.'),
        event: z.string().min(1).max(512).describe('The event name that makes the deployment\'s output stale (e.g. `orders.exported`).'),
      })
      .strict(),
  ])
  .describe('A service level declared on a deployment; a violation emits `reflex.sla.violated`, its end `reflex.sla.resolved`.');
export type DeploymentSla = z.output<typeof DeploymentSlaSchema>;

const fields = {
  name: DeploymentNameSchema,
  flow: z.string().min(1).describe('Name of the registered flow the deployment runs.'),
  description: z.string().nullable().default(null),
  parameters: z.record(z.string(), z.unknown()).default({}).describe('Default parameters; a run overrides them key by key.'),
  parameter_schema: z
    .record(z.string(), z.unknown())
    .nullable()
    .default(null)
    .describe('JSON Schema the merged parameters must satisfy when a run is created (400 otherwise).'),
  work_pool: WorkPoolNameSchema.default('default').describe('Work pool whose workers run it; created on first use.'),
  schedules: z.array(ScheduleSchema).default([]),
  tags: z.array(z.string().min(1)).default([]),
  concurrency_limit: z.number().int().min(1).nullable().default(null).describe('At most this many runs of the deployment at once (null: no limit).'),
  paused: z.boolean().default(false).describe('A paused deployment gets no scheduled runs and refuses manual runs (409).'),
  // run control (issue 15)
  concurrency: DeploymentConcurrencySchema.nullable().default(null),
  priority: RunPrioritySchema.default(0).describe('Default priority of its runs: -1000..1000, higher first within the work pool.'),
  slas: z.array(DeploymentSlaSchema).max(20).default([]),
};

/** A deployment as a user declares it (POST /api/deployments, `reflex deploy` files). */
export const DeploymentInputSchema = z.object(fields).strict();
export type DeploymentInput = z.output<typeof DeploymentInputSchema>;

/** PATCH /api/deployments/:id: only the fields given change. */
export const DeploymentPatchSchema = z
  .object({
    name: fields.name.optional(),
    flow: fields.flow.optional(),
    description: z.string().nullable().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    parameter_schema: z.record(z.string(), z.unknown()).nullable().optional(),
    work_pool: WorkPoolNameSchema.optional(),
    schedules: z.array(ScheduleSchema).optional(),
    tags: z.array(z.string().min(1)).optional(),
    concurrency_limit: z.number().int().min(1).nullable().optional(),
    paused: z.boolean().optional(),
    // run control (issue 15)
    concurrency: DeploymentConcurrencySchema.nullable().optional(),
    priority: RunPrioritySchema.optional(),
    slas: z.array(DeploymentSlaSchema).max(20).optional(),
  })
  .strict();
export type DeploymentPatch = z.output<typeof DeploymentPatchSchema>;

export const DeploymentSchema = z
  .object({
    id: z.string(),
    ...fields,
    created: z.iso.datetime({ offset: true }),
    updated: z.iso.datetime({ offset: true }),
  })
  .describe('A deployment: a flow with default parameters, a work pool and schedules.');
export type Deployment = z.output<typeof DeploymentSchema>;

/** POST /api/deployments/:id/runs. */
export const DeploymentRunInputSchema = z
  .object({
    parameters: z.record(z.string(), z.unknown()).default({}).describe('Overrides merged over the deployment defaults (top-level keys).'),
    tags: z.array(z.string().min(1)).default([]).describe('Added to the deployment tags.'),
    idempotency_key: z.string().min(1).max(256).optional().describe('A second request with the same key answers the same run.'),
    scheduled_time: z.iso.datetime({ offset: true }).optional().describe('Start no earlier than this (default now).'),
    name: z.string().min(1).max(128).optional(),
    // run control (issue 15)
    priority: RunPrioritySchema.optional().describe('Overrides the deployment\'s priority for this run.'),
    concurrency_key: z.string().max(512).optional().describe('This run\'s concurrency key instead of rendering the deployment\'s `concurrency.key` (400 when the deployment has no `concurrency`).'),
  })
  .strict();
export type DeploymentRunInput = z.output<typeof DeploymentRunInputSchema>;

export const WorkPoolSchema = z.object({
  name: WorkPoolNameSchema,
  description: z.string().nullable(),
  concurrency_limit: z.number().int().nullable(),
  paused: z.boolean(),
  created: z.iso.datetime({ offset: true }),
  updated: z.iso.datetime({ offset: true }),
});
export type WorkPool = z.output<typeof WorkPoolSchema>;

export const WorkPoolInputSchema = z
  .object({
    name: WorkPoolNameSchema,
    description: z.string().nullable().default(null),
    concurrency_limit: z.number().int().min(1).nullable().default(null),
    paused: z.boolean().default(false),
  })
  .strict();

export const WorkPoolPatchSchema = z
  .object({
    description: z.string().nullable().optional(),
    concurrency_limit: z.number().int().min(1).nullable().optional(),
  })
  .strict();

/**
 * A deployment as declared in a file applied by `reflex deploy`: like the API input, except that leaving
 * out `paused` keeps the current flag (re-deploying does not resume a paused deployment).
 */
export const DeploymentDeclarationSchema = DeploymentInputSchema.extend({ paused: z.boolean().optional() });
export type DeploymentDeclaration = z.output<typeof DeploymentDeclarationSchema>;

/** A deployment file: one declaration, a list, or `{ "deployments": [...] }`. */
export const DeploymentFileSchema = z.union([
  z.object({ deployments: z.array(DeploymentDeclarationSchema) }).strict(),
  z.array(DeploymentDeclarationSchema),
  DeploymentDeclarationSchema,
]);
