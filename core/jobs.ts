import type { JobsOptions } from 'bullmq';
import type { z } from 'zod';
import {
  ActionJobSchema,
  DeliveryAttemptJobSchema,
  flowRunJobId,
  FlowRunJobSchema,
} from '../schemas/jobs.ts';
import type { Names } from './names.ts';

/**
 * The job catalogue: every BullMQ job Reflex enqueues, with its queue, job name, zod contract (validated
 * once, where the job enters the queue) and options. infra/queues.ts adds and consumes jobs only through
 * these entries.
 */
export interface JobKind<S extends z.ZodType, A extends unknown[] = []> {
  /** What the job is, for error messages ("invalid <label>: ..."). */
  readonly label: string;
  /** The queue, from the namespace's names (and the kind's arguments, e.g. the work pool). */
  queue(names: Names, ...args: A): string;
  /** The job name, from the (validated) data. */
  name(data: z.output<S>): string;
  readonly schema: S;
  /** Options of one job: its id (always deterministic: adding twice adds once) and retention. */
  options(data: z.output<S>, extra?: Partial<JobsOptions>): JobsOptions;
}

/** Jobs kept after they end: enough to inspect recent ones, bounded so Redis does not grow. */
const KEEP = { removeOnComplete: { age: 3600, count: 10_000 }, removeOnFail: { age: 24 * 3600, count: 10_000 } } as const;

/**
 * Flow-run and delivery jobs are removed as they complete: the run's states and the delivery log are the
 * record, and such a job is only the dispatch. Keeping them cost Redis 20–30 µs more per job, a fifth to
 * a quarter of its work per delivery (docs/performance.md, round 10), and guarded nothing: a job
 * enqueued again after its first completed is skipped by its worker (a run no longer startable or whose
 * attempt ran, a delivery whose series has ended). Failed ones are kept, as the others are.
 */
const DISPATCH = { ...KEEP, removeOnComplete: true } as const;

export const JOBS = {
  /**
   * One attempt of one flow run on its work pool's queue; id `<run>-<attempt>`. A job throws only when its
   * worker met an outage (PostgreSQL or Redis unreachable while reading or claiming the run): a flow's own
   * failure is an outcome, not an exception. Such a job is tried again with backoff (1 s doubling, ten tries
   * over about 8 minutes) instead of failing for good and leaving its run SCHEDULED with a failed job that
   * the scheduler's Late repair cannot replace; the run's state decides what a retry does.
   */
  flowRun: {
    label: 'flow-run job',
    queue: (n: Names, pool: string) => n.queues.workPool(pool),
    name: () => 'flow-run',
    schema: FlowRunJobSchema,
    options: (d, extra) => ({
      jobId: flowRunJobId(d.flow_run_id, d.attempt),
      attempts: 10,
      backoff: { type: 'exponential', delay: 1000 },
      ...DISPATCH,
      ...extra,
    }),
  } satisfies JobKind<typeof FlowRunJobSchema, [pool: string]>,

  /**
   * One webhook delivery (a series of attempts). The id is the delivery's idempotency key (a replay's
   * series makes a new one). BullMQ's own attempts only cover a job that fails outright (a worker crash);
   * HTTP retries and outages of the delivery log move the job back to delayed themselves.
   */
  webhookDelivery: {
    label: 'webhook delivery',
    queue: (n: Names) => n.queues.webhookDeliveries,
    name: () => 'deliver',
    schema: DeliveryAttemptJobSchema,
    options: (d, extra) => ({
      jobId: d.series === 1 ? d.idempotency_key : `${d.idempotency_key}-replay-${d.series}`,
      attempts: 10,
      backoff: { type: 'exponential', delay: 1000 },
      ...DISPATCH,
      removeOnFail: { age: 7 * 24 * 3600 },
      ...extra,
    }),
  } satisfies JobKind<typeof DeliveryAttemptJobSchema>,

  /** An automation action retried after an outage; id `<firing>-<index>`, name the action type. */
  automationAction: {
    label: 'automation action job',
    queue: (n: Names) => n.queues.automationActions,
    name: (d) => d.action.type,
    schema: ActionJobSchema,
    options: (d, extra) => ({ jobId: `${d.firing.id}-${d.index}`, attempts: 5, backoff: { type: 'exponential', delay: 1000 }, ...KEEP, removeOnFail: { age: 24 * 3600 }, ...extra }),
  } satisfies JobKind<typeof ActionJobSchema>,
} as const;
