import { JOBS } from '../../core/jobs.ts';
import type { Queues } from '../../infra/queues.ts';
import { flowRunJobId } from '../../schemas/jobs.ts';

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

type QueuedRun = { id: string; flow_name: string; work_pool: string | null };

export class RunQueues {
  constructor(private readonly queues: Queues) {}

  /** The queue of a work pool (pause, resume, counts). */
  queue(pool: string) {
    return this.queues.queue(JOBS.flowRun, pool);
  }

  /** Enqueues a run on its pool's queue. Idempotent: a second call for the same attempt adds nothing. */
  async enqueue(run: QueuedRun, options: EnqueueOptions = {}): Promise<string> {
    const attempt = options.attempt ?? 1;
    const at = options.scheduledTime ? new Date(options.scheduledTime).getTime() : Date.now();
    return this.queues.add(JOBS.flowRun, { flow_run_id: run.id, flow_name: run.flow_name, attempt }, [run.work_pool ?? 'default'], { delay: Math.max(0, at - Date.now()) });
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
