import { Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Runtime } from '../../core/runtime.ts';
import { flowRunJobId, type FlowRunJob } from '../../schemas/jobs.ts';

/**
 * Hands flow runs to workers: one BullMQ queue per work pool (names.queues.workPool), one job per run
 * attempt with a deterministic id, delayed until the run's scheduled time.
 */

export const FLOW_RUN_JOB_NAME = 'flow-run';

/** bullmq bundles its own ioredis (5.11) whose types differ from ours (5.9); the instances are compatible. */
export function bullConnection(redis: Redis): ConnectionOptions {
  return redis as unknown as ConnectionOptions;
}

const queues = new WeakMap<Runtime, Map<string, Queue<FlowRunJob>>>();

/** The queue of a work pool (shared per runtime; closed by `closeWorkPoolQueues`). */
export function workPoolQueue(rt: Runtime, pool: string): Queue<FlowRunJob> {
  let byPool = queues.get(rt);
  if (!byPool) queues.set(rt, (byPool = new Map()));
  const existing = byPool.get(pool);
  if (existing) return existing;
  const q: Queue<FlowRunJob> = new Queue(rt.names.queues.workPool(pool), { connection: bullConnection(rt.redis), prefix: rt.names.bullPrefix });
  byPool.set(pool, q);
  return q;
}

export async function closeWorkPoolQueues(rt: Runtime): Promise<void> {
  const byPool = queues.get(rt);
  if (!byPool) return;
  queues.delete(rt);
  await Promise.allSettled([...byPool.values()].map((q) => q.close()));
}

export interface EnqueueOptions {
  /** Attempt number (1 for the first run; the worker passes run_count + 1 for a retry). */
  attempt?: number;
  /** Start no earlier than this (ISO time or Date); now when absent or past. */
  scheduledTime?: string | Date | null;
}

/**
 * Enqueues a run on its pool's queue. Idempotent: the job id is `<run id>-<attempt>`, so a second call for
 * the same attempt while the job exists adds nothing.
 *
 * A job throws only when its worker met an outage (Postgres or Redis unreachable while reading or claiming
 * the run): a flow's own failure is an outcome, not an exception. Such a job is tried again with backoff
 * (1 s doubling, ten tries over about 8 minutes) instead of failing for good and leaving its run SCHEDULED
 * with a failed job that the scheduler's Late repair cannot replace; the run's state decides what a retry does.
 */
export async function enqueueFlowRun(
  rt: Runtime,
  run: { id: string; flow_name: string; work_pool: string | null },
  options: EnqueueOptions = {},
): Promise<string> {
  const attempt = options.attempt ?? 1;
  const at = options.scheduledTime ? new Date(options.scheduledTime).getTime() : Date.now();
  const delay = Math.max(0, at - Date.now());
  const jobId = flowRunJobId(run.id, attempt);
  const job: FlowRunJob = { flow_run_id: run.id, flow_name: run.flow_name, attempt };
  await workPoolQueue(rt, run.work_pool ?? 'default').add(FLOW_RUN_JOB_NAME, job, {
    jobId,
    delay,
    attempts: 10,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 3600, count: 10_000 },
    removeOnFail: { age: 24 * 3600, count: 10_000 },
  });
  return jobId;
}

/** Removes a run's job if it is still waiting or delayed (a cancelled or deleted scheduled run). */
export async function removeQueuedFlowRun(rt: Runtime, run: { id: string; work_pool: string | null; run_count: number }): Promise<void> {
  const q = workPoolQueue(rt, run.work_pool ?? 'default');
  await q.remove(flowRunJobId(run.id, run.run_count + 1)).catch(() => 0);
}
