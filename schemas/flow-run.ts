import { z } from 'zod';

/** State types as Prefect users know them. The display `name` refines a type (e.g. SCHEDULED/Late). */
export const StateType = {
  SCHEDULED: 'SCHEDULED',
  PENDING: 'PENDING',
  RUNNING: 'RUNNING',
  COMPLETED: 'COMPLETED',
  FAILED: 'FAILED',
  CANCELLING: 'CANCELLING',
  CANCELLED: 'CANCELLED',
  CRASHED: 'CRASHED',
  PAUSED: 'PAUSED',
} as const;
export type StateType = (typeof StateType)[keyof typeof StateType];
export const StateTypeSchema = z.enum(Object.values(StateType) as [StateType, ...StateType[]]);

export const TERMINAL_STATES: ReadonlySet<StateType> = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED']);

/** Default display names; `Late`, `AwaitingRetry` and `Retrying` are the named variants of a type. */
export const DEFAULT_STATE_NAMES: Record<StateType, string> = {
  SCHEDULED: 'Scheduled',
  PENDING: 'Pending',
  RUNNING: 'Running',
  COMPLETED: 'Completed',
  FAILED: 'Failed',
  CANCELLING: 'Cancelling',
  CANCELLED: 'Cancelled',
  CRASHED: 'Crashed',
  PAUSED: 'Paused',
};

/** An error as a run stores it: structured, never a bare string. */
export const RunErrorSchema = z
  .object({ name: z.string(), message: z.string(), code: z.string().nullable(), stack: z.string().nullable() })
  .describe('The error that failed (or retried) the run: its class name, message, Reflex error code (docs/errors.md) and stack.');

export const StateSchema = z.object({
  type: StateTypeSchema,
  name: z.string(),
  timestamp: z.iso.datetime({ offset: true }),
  message: z.string().nullable().default(null),
  /** For SCHEDULED states (incl. AwaitingRetry): when the run should start. */
  scheduled_time: z.iso.datetime({ offset: true }).nullable().optional(),
  error: RunErrorSchema.nullable().optional().describe('The error behind a FAILED, CRASHED or AwaitingRetry state; null otherwise.'),
});
export type State = z.output<typeof StateSchema>;

/** What a caller asks for when it proposes a transition; the orchestration module fills in the rest. */
export const StateInputSchema = z.object({
  type: StateTypeSchema,
  name: z.string().optional(),
  message: z.string().optional(),
  scheduled_time: z.iso.datetime({ offset: true }).optional(),
  error: RunErrorSchema.optional(),
});
export type StateInput = z.input<typeof StateInputSchema>;

export const FlowRunSchema = z.object({
  id: z.string(),
  name: z.string(),
  flow_name: z.string(),
  deployment_id: z.string().nullable(),
  work_pool: z.string().nullable(),
  parent_task_run_id: z.string().nullable(),
  parent_flow_run_id: z.string().nullable(),
  parameters: z.record(z.string(), z.unknown()),
  tags: z.array(z.string()),
  state: StateSchema,
  run_count: z.number().int(),
  expected_start_time: z.iso.datetime({ offset: true }).nullable(),
  start_time: z.iso.datetime({ offset: true }).nullable(),
  end_time: z.iso.datetime({ offset: true }).nullable(),
  total_run_time_seconds: z.number(),
  created: z.iso.datetime({ offset: true }),
  updated: z.iso.datetime({ offset: true }),
  /** JSON-serialisable summary of the return value once finished. */
  result: z.unknown().nullable(),
  idempotency_key: z.string().nullable(),
});
export type FlowRun = z.output<typeof FlowRunSchema>;

export const TaskRunSchema = z.object({
  id: z.string(),
  flow_run_id: z.string().nullable(),
  task_name: z.string(),
  /** Stable identity of the call site within the flow run (task name + dynamic key). */
  dynamic_key: z.string(),
  cache_key: z.string().nullable(),
  parameters: z.record(z.string(), z.unknown()),
  tags: z.array(z.string()),
  state: StateSchema,
  run_count: z.number().int(),
  start_time: z.iso.datetime({ offset: true }).nullable(),
  end_time: z.iso.datetime({ offset: true }).nullable(),
  created: z.iso.datetime({ offset: true }),
  result: z.unknown().nullable(),
});
export type TaskRun = z.output<typeof TaskRunSchema>;

export const LogLineSchema = z.object({
  flow_run_id: z.string(),
  task_run_id: z.string().nullable(),
  level: z.number().int(),
  message: z.string(),
  timestamp: z.iso.datetime({ offset: true }),
  fields: z.record(z.string(), z.unknown()).default({}),
});
export type LogLine = z.output<typeof LogLineSchema>;
