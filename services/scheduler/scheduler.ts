import type { Logger } from '../../core/log.ts';
import type { Runtime } from '../../infra/runtime.ts';
import { ScheduleSchema, type Deployment } from '../../schemas/deployment.ts';
import { requireDeployment } from '../../modules/runs/deployments.ts';
import { enqueueFlowRun } from '../../modules/runs/run-queues.ts';
import { createDeploymentRun, runKeys } from '../../modules/runs/deployment-runs.ts';
import { orchestration } from '../../modules/runs/run-store.ts';
import { upcomingStartTimes } from '../../modules/runs/engine/schedule.ts';

export interface SchedulerOptions {
  loopMs: number;
  horizonMs: number;
  maxRuns: number;
  lateAfterMs: number;
}

/**
 * Creates each active schedule's upcoming runs ahead of time and marks runs that did not start on time
 * as Late. Any number of replicas may run this loop: a scheduled run's idempotency key is
 * (deployment, start time) under a unique index, and a Late transition from Late is refused, so replicas
 * never duplicate a run or an event.
 */
export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly rt: Runtime,
    private readonly log: Logger,
    private readonly options: SchedulerOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick(new Date())
        .then(() => undefined)
        .catch((err: unknown) => this.log.error({ err }, 'scheduler tick failed'))
        .finally(() => {
          this.running = undefined;
          this.schedule(this.options.loopMs);
        });
    }, ms);
  }

  /** One pass: plan upcoming runs, then mark late ones. Returns what it did (for tests and logs). */
  async tick(now: Date): Promise<{ created: number; late: number }> {
    const created = await this.planRuns(now);
    const late = await this.markLate(now);
    if (created || late) this.log.debug({ created, late }, 'scheduler pass');
    return { created, late };
  }

  async planRuns(now: Date): Promise<number> {
    const res = await this.rt.pg.query<{ id: string }>(
      `SELECT d.id FROM deployments d LEFT JOIN work_pools p ON p.name = d.work_pool
       WHERE NOT d.paused AND NOT coalesce(p.paused, false) AND jsonb_array_length(d.schedules) > 0`,
    );
    let created = 0;
    for (const { id } of res.rows) {
      try {
        created += await this.planDeployment(await requireDeployment(this.rt.pg, id), now);
      } catch (err) {
        this.log.error({ err, deployment_id: id }, 'could not create scheduled runs');
      }
    }
    return created;
  }

  private async planDeployment(deployment: Deployment, now: Date): Promise<number> {
    const times = new Map<number, Date>();
    for (const raw of deployment.schedules) {
      const schedule = ScheduleSchema.parse(raw);
      if (!schedule.active) continue;
      for (const t of upcomingStartTimes(schedule, { now, horizonMs: this.options.horizonMs, maxRuns: this.options.maxRuns })) times.set(t.getTime(), t);
    }
    if (times.size === 0) return 0;
    const keys = [...times.values()].map((t) => runKeys.schedule(deployment.id, t));
    const existing = await this.rt.pg.query<{ idempotency_key: string }>('SELECT idempotency_key FROM flow_runs WHERE idempotency_key = ANY($1::text[])', [keys]);
    const have = new Set(existing.rows.map((r) => r.idempotency_key));
    const missing = [...times.values()].filter((t) => !have.has(runKeys.schedule(deployment.id, t)));
    const results = await Promise.all(
      missing.map((t) =>
        createDeploymentRun(this.rt, deployment, { source: 'schedule', raw_idempotency_key: runKeys.schedule(deployment.id, t), scheduled_time: t }),
      ),
    );
    return results.filter((r) => r.created).length;
  }

  /** SCHEDULED runs past their time by more than the grace period become SCHEDULED/Late (with their event). */
  async markLate(now: Date): Promise<number> {
    const res = await this.rt.pg.query<{ id: string; scheduled: Date }>(
      `SELECT id, state_scheduled_time AS scheduled FROM flow_runs
       WHERE state_type = 'SCHEDULED' AND state_name <> 'Late' AND state_scheduled_time < $1
       ORDER BY state_scheduled_time LIMIT 1000`,
      [new Date(now.getTime() - this.options.lateAfterMs)],
    );
    const store = orchestration(this.rt);
    const results = await Promise.all(
      res.rows.map((r) =>
        store.writer.setFlowRunState(r.id, { type: 'SCHEDULED', name: 'Late', scheduled_time: r.scheduled.toISOString(), message: 'the run did not start on time' }),
      ),
    );
    const late = results.filter((r) => r.accepted);
    // Re-adding the job is a no-op while it exists; it repairs a run whose creator died before enqueueing it.
    await Promise.all(late.map((r) => (r.run.work_pool ? enqueueFlowRun(this.rt, r.run, { attempt: r.run.run_count + 1 }).catch(() => {}) : null)));
    return late.length;
  }
}
