import type { Redis } from 'ioredis';
import type { Names } from '../../core/names.ts';
import type { Pool } from '../../infra/db.ts';
import { heartbeatTtlMs, longActiveRuns, StateNames, type Runs } from '../../modules/runs/index.ts';
import { canRetry, retryDelayMs } from '../../sdk/retry.ts';
import type { Waits } from '../../modules/waits/index.ts';

/**
 * Crash detection: a RUNNING (or CANCELLING, or paused in its flow) run whose heartbeat key has expired belongs to a process
 * that died (kill -9, OOM, lost host). Any worker may sweep any run; a Redis lock keeps sweeps from
 * overlapping, and the state rules make a double sweep harmless (RUNNING -> CRASHED is accepted once).
 * A crashed run of a work pool is retried when its flow's retry policy, known from the sweeping
 * worker's flows module, allows it.
 */

export interface CrashSweepOptions {
  heartbeatSeconds: number;
  /** Retry policy of a flow by name, when this worker knows the flow. */
  retryPolicy(flowName: string): { retries: number; retryDelaySeconds: number | readonly number[]; retryJitterFactor: number | undefined } | undefined;
  limit?: number;
}

export interface SweepResult {
  crashed: string[];
  retried: string[];
  cancelled: string[];
}

export interface CrashSweepDeps {
  pg: Pool;
  redis: Redis;
  names: Names;
  runs: Pick<Runs, 'store' | 'queues'>;
}

export async function sweepCrashedRuns(deps: CrashSweepDeps, options: CrashSweepOptions): Promise<SweepResult> {
  const result: SweepResult = { crashed: [], retried: [], cancelled: [] };
  const ttlMs = heartbeatTtlMs(options.heartbeatSeconds);
  const lock = await deps.redis.set(deps.names.keys.crashSweeperLock, '1', 'PX', Math.max(500, Math.round(options.heartbeatSeconds * 1000)), 'NX');
  if (lock !== 'OK') return result;
  // Only runs that have been in their state longer than the TTL: a run that just started may not have its first beat yet.
  const rows = await longActiveRuns(deps.pg, ttlMs, options.limit ?? 1000);
  if (rows.length === 0) return result;
  const pipe = deps.redis.pipeline();
  for (const r of rows) pipe.exists(deps.names.keys.heartbeat(r.id));
  const alive = ((await pipe.exec()) ?? []).map(([, v]) => Number(v) === 1);
  const store = deps.runs.store;
  const silentFor = `${Math.round(ttlMs / 1000)} s`;
  for (const [i, row] of rows.entries()) {
    if (alive[i]) continue;
    if (row.state_type === 'CANCELLING') {
      const r = await store.setFlowRunState(row.id, { type: 'CANCELLED', message: `the process running it stopped (no heartbeat for ${silentFor}) while cancelling` });
      if (r.accepted) result.cancelled.push(row.id);
      continue;
    }
    const paused = row.state_type === 'PAUSED' ? ' while it was paused' : '';
    const crashed = await store.setFlowRunState(row.id, { type: 'CRASHED', message: `the process running it stopped${paused}: no heartbeat for ${silentFor} (killed, out of memory or lost)` });
    if (!crashed.accepted) continue;
    result.crashed.push(row.id);
    // The flow's onCrashed hooks run apart (FlowWorker.runCrashHooks), on a worker that knows the flow.
    const run = crashed.run;
    const policy = options.retryPolicy(run.flow_name);
    if (!run.work_pool || !policy || !canRetry(policy, run.run_count)) continue;
    const scheduledTime = new Date(Date.now() + retryDelayMs(policy, run.run_count)).toISOString();
    const retry = await store.setFlowRunState(run.id, { type: 'SCHEDULED', name: StateNames.AwaitingRetry, scheduled_time: scheduledTime, message: 'retrying after a crash' });
    if (!retry.accepted) continue;
    await deps.runs.queues.enqueue(run, { attempt: run.run_count + 1, scheduledTime });
    result.retried.push(run.id);
  }
  return result;
}

/**
 * Suspended runs whose timeout passed: no process waits for them, so the sweep fails them (flow authors,
 * issue 13). Resolving the wait first decides the race with a resume arriving at the same moment.
 */
export async function failExpiredSuspensions(deps: Pick<CrashSweepDeps, 'runs'> & { waits: Waits }): Promise<string[]> {
  const failed: string[] = [];
  for (const w of await deps.waits.expiredSuspensions()) {
    if (!(await deps.waits.resolve(w.flow_run_id, w.wait_key, 'timed_out', null))) continue;
    const seconds = Number(w.spec.timeout_seconds);
    const r = await deps.runs.store.setFlowRunState(w.flow_run_id, {
      type: 'FAILED',
      message: `the flow run suspended for input, and nobody resumed it within ${Number.isFinite(seconds) ? seconds : '?'} s`,
    });
    if (r.accepted) failed.push(w.flow_run_id);
  }
  return failed;
}
