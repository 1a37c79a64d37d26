import type { JobsOptions } from 'bullmq';
import type { z } from 'zod';
import { JOBS } from '../../core/jobs.ts';
import type { Logger } from '../../core/log.ts';
import { Batcher } from '../../infra/batcher.ts';
import type { Queues } from '../../infra/queues.ts';
import { currentTraceparent, tracingEnabled } from '../../infra/tracing.ts';
import { flowRunJobId, type FlowRunJobSchema } from '../../schemas/jobs.ts';

/**
 * Hands flow runs to workers: one BullMQ queue per work pool, one job per run attempt with a
 * deterministic id (`<run id>-<attempt>`), delayed until the run's scheduled time.
 */

export interface EnqueueOptions {
  /** Attempt number (1 for the first run; the worker passes run_count + 1 for a retry). */
  attempt?: number;
  /** Start no earlier than this (ISO time or Date); now when absent or past. */
  scheduledTime?: string | Date | null;
}

/** A run to enqueue; with `deployment_id`, `concurrency_key` and `created` (a full record) its job carries them for the worker's slot check. */
type QueuedRun = { id: string; flow_name: string; work_pool: string | null; priority?: number; deployment_id?: string | null; concurrency_key?: string | null; created?: string };

/** Reflex priorities run from -1000 (last) to 1000 (first). */
export const MAX_RUN_PRIORITY = 1000;

/**
 * BullMQ takes jobs with a lower `priority` number first (1 is the highest; 0 means "no priority" and is
 * served from a separate list). Reflex says higher is first, so every run job is prioritized with
 * `MAX_RUN_PRIORITY + 1 - priority`: 1000 → 1, 0 → 1001, -1000 → 2001. Jobs of equal priority keep FIFO order.
 */
export function bullPriority(priority: number | undefined): number {
  const p = Math.max(-MAX_RUN_PRIORITY, Math.min(MAX_RUN_PRIORITY, Math.trunc(priority ?? 0)));
  return MAX_RUN_PRIORITY + 1 - p;
}

/** One run's job as it waits for its batch: the job's data and its own options (delay, priority). */
type RunJob = { input: z.input<typeof FlowRunJobSchema>; extra: Partial<JobsOptions> };

export class RunQueues {
  /**
   * Per work pool, with a logger: runs enqueued while an add to that pool is in flight go to Redis
   * together (BullMQ's addBulk, one MULTI), as deliveries do (modules/webhooks/enqueue.ts). The runs an
   * automation starts for a batch of events are created together and enqueued together; each caller's
   * promise still settles once its own job is in Redis, and a batch that fails is retried job by job.
   */
  private readonly batches = new Map<string, Batcher<RunJob, string>>();

  constructor(
    private readonly queues: Queues,
    private readonly log?: Logger,
  ) {}

  private batch(pool: string): Batcher<RunJob, string> | undefined {
    if (!this.log || (tracingEnabled() && currentTraceparent())) return undefined; // a traced enqueue keeps its own producer span
    let b = this.batches.get(pool);
    if (!b) {
      b = new Batcher((jobs: RunJob[]) => this.queues.addBulk(JOBS.flowRun, jobs.map((j) => j.input), [pool], jobs.map((j) => j.extra)), this.log, {
        onIdle: () => this.batches.delete(pool), // one per pool in use, not one per pool ever seen
      });
      this.batches.set(pool, b);
    }
    return b;
  }

  /** The queue of a work pool (pause, resume, counts). */
  queue(pool: string) {
    return this.queues.queue(JOBS.flowRun, pool);
  }

  /** Enqueues a run on its pool's queue. Idempotent: a second call for the same attempt adds nothing. */
  async enqueue(run: QueuedRun, options: EnqueueOptions = {}): Promise<string> {
    const attempt = options.attempt ?? 1;
    const at = options.scheduledTime ? new Date(options.scheduledTime).getTime() : Date.now();
    // Only a record says what the slot check needs (the wire run has no concurrency key): else the worker reads the run.
    const facts = run.deployment_id !== undefined && run.concurrency_key !== undefined && run.created !== undefined
      ? { deployment_id: run.deployment_id, work_pool: run.work_pool, concurrency_key: run.concurrency_key, created: run.created, priority: run.priority ?? 0 }
      : undefined;
    const pool = run.work_pool ?? 'default';
    const job: RunJob = { input: { flow_run_id: run.id, flow_name: run.flow_name, attempt, run: facts }, extra: { delay: Math.max(0, at - Date.now()), priority: bullPriority(run.priority) } };
    const batch = this.batch(pool);
    return batch ? batch.push(job) : this.queues.add(JOBS.flowRun, job.input, [pool], job.extra);
  }

  /** Removes a run's job if it is still waiting or delayed (a cancelled or deleted scheduled run). */
  async remove(run: { id: string; work_pool: string | null; run_count: number }): Promise<void> {
    await this.queue(run.work_pool ?? 'default').remove(flowRunJobId(run.id, run.run_count + 1)).catch(() => 0);
  }

  /** Waiting, active, delayed, failed and paused job counts of a pool's queue. */
  counts(pool: string): Promise<Record<string, number>> {
    return this.queue(pool).getJobCounts('waiting', 'active', 'delayed', 'failed', 'paused', 'prioritized');
  }
}
