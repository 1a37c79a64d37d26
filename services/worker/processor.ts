import { DelayedError, type Job } from 'bullmq';
import type { Logger } from '../../core/log.ts';
import { NotFoundError } from '../../core/errors.ts';
import { publicFlowRun, type FlowRunRecord, type Runs, type SlotRun } from '../../modules/runs/index.ts';
import type { FlowAttemptResult } from '../../sdk/flow-runner.ts';
import type { FlowRunJob } from '../../schemas/jobs.ts';
import type { EngineClient } from '../../sdk/client.ts';
import { flowInternals } from '../../sdk/flow.ts';
import type { AnyFlow } from './flows-module.ts';

/**
 * One BullMQ job = one attempt of one flow run. The job is a pointer; Postgres holds the truth, so
 * every check is made against the run as stored:
 * - a run that is no longer SCHEDULED or PENDING, or whose attempt already ran, is skipped (duplicate
 *   or stale job: a crash retry, a redelivered stalled job);
 * - the RUNNING transition is the claim: if two workers hold the same run, the rules accept one;
 * - deployment and work-pool limits are checked before any state change; a job without a slot goes back
 *   to the queue delayed, so a full deployment never blocks a worker slot;
 * - a failure with retries left schedules the next attempt as a new delayed job (`<run>-<attempt+1>`).
 */

export type JobOutcome = 'missing' | 'not-startable' | 'stale' | 'unknown-flow' | 'refused' | 'completed' | 'failed' | 'retry' | 'cancelled' | 'suspended';

export interface ProcessorContext {
  runs: Pick<Runs, 'slots' | 'queues' | 'store' | 'flowRuns'>;
  client: EngineClient;
  flows: ReadonlyMap<string, AnyFlow>;
  flowsModule: string;
  slotRetryMs: number;
  /** Aborted when the worker is shutting down for good. */
  log: Logger;
}

export async function processFlowRunJob(ctx: ProcessorContext, job: Job<FlowRunJob>, token: string | undefined): Promise<JobOutcome> {
  const { flow_run_id: id, attempt } = job.data;
  const { store } = ctx.client;
  const flow = ctx.flows.get(job.data.flow_name);
  const claimAttempt = flow ? flowInternals(flow).claimAttempt : undefined;
  // A job that carries the run's facts is claimed without a read: the RUNNING transition checks the run's
  // state and attempt itself (SetStateOptions.claim). Otherwise the run is read and checked first, as it
  // always was: an older job, an unknown flow, a flows module with an older SDK, and a run with a
  // concurrency key, whose slot decision may cancel other runs and so must not be taken for a stale job.
  let run: FlowRunRecord | null = null;
  let slotRun: SlotRun;
  if (job.data.run && job.data.run.concurrency_key === null && flow && claimAttempt) {
    const { priority: _p, ...facts } = job.data.run;
    slotRun = { id, ...facts };
  } else {
    // The record, not the wire run: it carries the run's priority and concurrency key (issue 15).
    run = await ctx.runs.store.getFlowRunRecord(id);
    if (!run) return 'missing';
    if (run.state.type !== 'SCHEDULED' && run.state.type !== 'PENDING') return 'not-startable';
    if (run.run_count >= attempt) return 'stale';
    slotRun = run;
  }
  const flowName = run?.flow_name ?? job.data.flow_name;
  const log = ctx.log.child({ flow_run_id: id, flow_name: flowName, attempt });

  const def = run ? ctx.flows.get(run.flow_name) : flow;
  if (!def) {
    const known = [...ctx.flows.keys()].join(', ') || 'none';
    await store.setFlowRunState(id, { type: 'FAILED', message: `flow "${flowName}" is not in this worker's flows module ${ctx.flowsModule} (it has: ${known})` });
    return 'unknown-flow';
  }

  const slot = await ctx.runs.slots.acquire(slotRun, { leaseSeconds: 30, waiterTtlMs: Math.max(3000, 4 * ctx.slotRetryMs) });
  if (!slot.acquired && slot.collision?.action === 'cancel-self') {
    log.info({ reason: slot.reason }, 'run cancelled by its concurrency key collision strategy');
    await store.setFlowRunState(id, { type: 'CANCELLED', message: `cancelled: ${slot.reason}` });
    return 'cancelled';
  }
  if (!slot.acquired && slot.collision?.action === 'cancel-holders') {
    // cancel-in-progress: the runs in flight are cancelled through the operator path (CANCELLING, then the worker aborts them).
    log.info({ cancelling: slot.collision.runs }, 'cancelling the runs in flight of its concurrency key (newest wins)');
    await Promise.all(slot.collision.runs.map((r) => ctx.runs.flowRuns.cancel(r, `cancelled: newer run ${id} of the same concurrency key wins`).catch(() => {})));
  }
  if (!slot.acquired) {
    log.debug({ reason: slot.reason }, 'no concurrency slot; delaying the run');
    await job.moveToDelayed(Date.now() + ctx.slotRetryMs + Math.floor(Math.random() * 200), token);
    throw new DelayedError();
  }
  try {
    let result: FlowAttemptResult;
    if (run) {
      // PENDING is proposed without waiting: RUNNING follows it in the same batch and is the claim we wait for.
      if (run.state.type === 'SCHEDULED') void store.setFlowRunState(id, { type: 'PENDING' }).catch(() => {});
      result = await flowInternals(def).runAttempt(ctx.client, publicFlowRun(run), {});
    } else {
      try {
        result = await (claimAttempt as NonNullable<typeof claimAttempt>)(ctx.client, { id, attempt }, {});
      } catch (err) {
        // The run was deleted after its job was queued (a cleared scheduled run): nothing to start.
        if (err instanceof NotFoundError) return 'missing';
        throw err;
      }
    }
    switch (result.kind) {
      case 'completed':
        return 'completed';
      case 'failed':
        return 'failed';
      case 'cancelled':
        return 'cancelled';
      case 'suspended':
        return 'suspended';
      case 'refused':
        log.debug({ reason: result.reason }, 'run not started');
        // A claim is refused from SCHEDULED or PENDING only for an attempt that ran already.
        if (!run) return result.state.type === 'SCHEDULED' || result.state.type === 'PENDING' ? 'stale' : 'not-startable';
        return 'refused';
      case 'retry': {
        const retried = run ?? { id, flow_name: flowName, ...(job.data.run as NonNullable<FlowRunJob['run']>) };
        await ctx.runs.queues.enqueue(retried, { attempt: result.runCount + 1, scheduledTime: result.scheduledTime });
        return 'retry';
      }
    }
  } finally {
    await slot.slot.release().catch(() => {});
  }
}
