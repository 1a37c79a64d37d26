import { ConflictError, ValidationError } from '../../core/errors.ts';
import { isUuid } from '../../core/ids.ts';
import type { Pool } from '../../infra/db.ts';
import type { Deployment } from '../../schemas/deployment.ts';
import type { TriggeredBy } from '../../schemas/jobs.ts';
import { validateParameters } from './engine/parameters.ts';
import type { FlowRunRecord } from './rows.ts';
import type { RunQueues } from './run-queues.ts';
import type { RunStore } from './run-store.ts';
import type { WorkPools } from './work-pools.ts';
import { renderRunKey } from './run-keys.ts';

/** Idempotency keys of runs: the scheduler's is (deployment, start time), so replicas never duplicate. */
export const runKeys = {
  schedule: (deploymentId: string, start: Date) => `schedule:${deploymentId}:${start.toISOString()}`,
  schedulePrefix: (deploymentId: string) => `schedule:${deploymentId}:`,
  caller: (deploymentId: string, key: string) => `deployment:${deploymentId}:${key}`,
};

export interface DeploymentRunRequest {
  parameters?: Record<string, unknown>;
  tags?: string[];
  /** Scoped to the deployment; a repeated key answers the existing run. */
  idempotency_key?: string;
  scheduled_time?: string | Date;
  name?: string;
  /** `schedule` runs skip the paused checks (the scheduler checks first) and use the schedule key as is. */
  source?: 'manual' | 'schedule';
  /** For scheduler runs: the full idempotency key. */
  raw_idempotency_key?: string;
  /** The automation (firing, event) whose action asked for the run: recorded on it as its cause. */
  triggered_by?: TriggeredBy;
  /** Run control (issue 15): this run's priority (default: the deployment's), higher first within the pool. */
  priority?: number;
  /** This run's concurrency key, instead of rendering the deployment's template (an automation renders it over its event). */
  concurrency_key?: string;
  /** Whether the deployment's work pool is paused, when the caller read it with the deployment (deploymentsForRuns): not read again. */
  poolPaused?: boolean;
  /**
   * The deployment is a remembered read of this row version (DeploymentForRun.version): the run is written
   * only if the row is unchanged and nothing is paused, else the create fails with a DeploymentChangedError.
   */
  deploymentVersion?: string;
}

/** What is recorded as a run's cause: an automation's ids, only UUIDs (so readers can cast them), or nothing. */
function causeOf(by: TriggeredBy | undefined): TriggeredBy | null {
  const uuidOrNull = (v: string | null) => (v && isUuid(v) ? v : null);
  const automation_id = uuidOrNull(by?.automation_id ?? null);
  return automation_id ? { automation_id, firing_id: uuidOrNull(by?.firing_id ?? null), event_id: uuidOrNull(by?.event_id ?? null) } : null;
}

/** Runs of deployments: creating one (manual, scheduled, from an automation) and clearing planned ones. */
export class DeploymentRuns {
  constructor(
    private readonly pg: Pool,
    private readonly store: RunStore,
    private readonly workPools: WorkPools,
    private readonly queues: RunQueues,
  ) {}

  /**
   * Creates a run of a deployment: parameters merged over the defaults and validated against the
   * deployment's parameter_schema (400 with field paths), a SCHEDULED run, then the job on the pool's
   * queue, delayed to its scheduled time. A paused deployment or work pool refuses manual runs (409).
   */
  async create(deployment: Deployment, request: DeploymentRunRequest = {}): Promise<{ run: FlowRunRecord; created: boolean }> {
    if (request.source !== 'schedule') {
      if (deployment.paused) throw new ConflictError(`deployment "${deployment.name}" is paused; resume it to create runs`, 'deployment_paused');
      const paused = request.poolPaused ?? (await this.workPools.read(deployment.work_pool))?.paused;
      if (paused) throw new ConflictError(`work pool "${deployment.work_pool}" is paused; resume it to create runs`, 'work_pool_paused');
    }
    const parameters = { ...deployment.parameters, ...(request.parameters ?? {}) };
    validateParameters(deployment.parameter_schema, parameters);
    const scheduled = request.scheduled_time ? new Date(request.scheduled_time) : new Date();
    const tags = [...new Set([...deployment.tags, ...(request.tags ?? [])])];
    // The key is rendered once, here: every attempt of the run is gated by the same key.
    if (request.concurrency_key !== undefined && !deployment.concurrency) {
      throw new ValidationError(`deployment "${deployment.name}" declares no concurrency: a run's concurrency_key needs its limit`, [{ path: 'concurrency_key', message: 'the deployment has no concurrency declaration' }]);
    }
    const concurrencyKey = request.concurrency_key !== undefined
      ? request.concurrency_key
      : deployment.concurrency
      ? await renderRunKey(deployment.concurrency, { parameters, tags, deployment: { id: deployment.id, name: deployment.name, flow: deployment.flow } })
      : null;
    const idempotencyKey = request.raw_idempotency_key ?? (request.idempotency_key ? runKeys.caller(deployment.id, request.idempotency_key) : null);
    const result = await this.store.createFlowRunDetailed({
      flow_name: deployment.flow,
      name: request.name,
      parameters,
      deployment_id: deployment.id,
      deployment_name: deployment.name,
      work_pool: deployment.work_pool,
      tags,
      priority: request.priority ?? deployment.priority ?? 0,
      concurrency_key: concurrencyKey,
      state: { type: 'SCHEDULED', scheduled_time: scheduled.toISOString() },
      idempotency_key: idempotencyKey,
      triggered_by: causeOf(request.triggered_by),
    }, { deploymentVersion: request.deploymentVersion });
    // Only the request that created the run enqueues it: a repeat must not resurrect a finished job.
    if (result.created) await this.queues.enqueue(result.run, { attempt: 1, scheduledTime: scheduled });
    return result;
  }

  /**
   * Deletes the not-yet-started runs the scheduler created for a deployment (and their queued jobs), so a
   * paused deployment runs nothing more and a changed schedule is planned afresh.
   */
  async clearScheduled(deploymentId: string): Promise<number> {
    const res = await this.pg.query<{ id: string; work_pool: string | null; run_count: number }>(
      `DELETE FROM flow_runs WHERE deployment_id = $1 AND state_type = 'SCHEDULED' AND run_count = 0 AND idempotency_key LIKE $2
       RETURNING id, work_pool, run_count`,
      [deploymentId, `${runKeys.schedulePrefix(deploymentId)}%`],
    );
    await Promise.all(res.rows.map((r) => this.queues.remove(r)));
    return res.rowCount ?? 0;
  }
}
