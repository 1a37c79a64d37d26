import type { Logger } from '../../core/log.ts';
import type { Pool } from '../../infra/db.ts';
import { existingRunKeys, overdueRuns, requireDeployment, runKeys, schedulableDeploymentIds, StateNames, upcomingStartTimes, type Runs } from '../../modules/runs/index.ts';
import { ScheduleSchema, type Deployment } from '../../schemas/deployment.ts';

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
    private readonly pg: Pool,
    private readonly runs: Runs,
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
    let created = 0;
    for (const id of await schedulableDeploymentIds(this.pg)) {
      try {
        created += await this.planDeployment(await requireDeployment(this.pg, id), now);
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
    const have = await existingRunKeys(this.pg, keys);
    const missing = [...times.values()].filter((t) => !have.has(runKeys.schedule(deployment.id, t)));
    const results = await Promise.all(
      missing.map((t) => this.runs.deploymentRuns.create(deployment, { source: 'schedule', raw_idempotency_key: runKeys.schedule(deployment.id, t), scheduled_time: t })),
    );
    return results.filter((r) => r.created).length;
  }

  /** SCHEDULED runs past their time by more than the grace period become SCHEDULED/Late (with their event). */
  async markLate(now: Date): Promise<number> {
    const overdue = await overdueRuns(this.pg, new Date(now.getTime() - this.options.lateAfterMs), 1000);
    const { writer } = this.runs.store;
    const results = await Promise.all(
      overdue.map((r) =>
        writer.setFlowRunState(r.id, { type: 'SCHEDULED', name: StateNames.Late, scheduled_time: r.scheduled.toISOString(), message: 'the run did not start on time' }),
      ),
    );
    const late = results.filter((r) => r.accepted);
    // Re-adding the job is a no-op while it exists; it repairs a run whose creator died before enqueueing it.
    await Promise.all(late.map((r) => (r.run.work_pool ? this.runs.queues.enqueue(r.run, { attempt: r.run.run_count + 1 }).catch(() => {}) : null)));
    return late.length;
  }
}
