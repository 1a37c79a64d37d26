import type { Job, Worker } from 'bullmq';
import { JOBS } from '../../core/jobs.ts';
import type { Logger } from '../../core/log.ts';
import type { EventBus } from '../../infra/bus.ts';
import type { Pool } from '../../infra/db.ts';
import type { Metrics } from '../../infra/metrics.ts';
import { contextFrom, inSpan, tracingEnabled } from '../../infra/tracing.ts';
import type { Queues } from '../../infra/queues.ts';
import { executeAction, recordFirings, type ActionDeps, type ActionJobData } from '../../modules/automations/index.ts';
import type { FlowRun } from '../../schemas/flow-run.ts';

export interface ActionExecutorDeps {
  pg: Pool;
  bus: EventBus;
  queues: Queues;
  log: Logger;
  actions: ActionDeps;
  flowRun: (id: string) => Promise<FlowRun | null>;
  metrics?: Metrics;
}

/**
 * The action executor: a BullMQ worker on the automation-actions queue, where the dispatcher puts the
 * actions it could not perform itself because of an infrastructure error (dispatch.ts). For each job it
 * performs the action, records the outcome on the firing and emits its event; infrastructure errors throw,
 * so BullMQ retries the job with backoff.
 */
export class ActionExecutor {
  private worker: Worker | undefined;

  constructor(
    private readonly deps: ActionExecutorDeps,
    private readonly concurrency: number,
  ) {}

  start(): void {
    this.worker = this.deps.queues.worker(JOBS.automationAction, [], (job) => this.process(job as Job<ActionJobData>), {
      connectionName: 'automation-actions',
      concurrency: this.concurrency,
    });
    this.worker.on('error', (err) => this.deps.log.error({ err }, 'automation action worker error'));
  }

  async stop(): Promise<void> {
    await this.worker?.close();
  }

  private async process(job: Job<ActionJobData>): Promise<void> {
    const traceparent = tracingEnabled() ? job.data.traceparent : undefined;
    if (!traceparent) return this.processNow(job);
    const attributes = { 'reflex.automation.id': job.data.automation.id, 'reflex.firing.id': job.data.firing.id, 'reflex.action.index': job.data.index, 'reflex.action.retry': true };
    return inSpan(`reflex.automation.action ${job.data.action.type}`, { parent: contextFrom({ traceparent }), attributes }, () => this.processNow(job));
  }

  private async processNow(job: Job<ActionJobData>): Promise<void> {
    const { write, event, outcome } = await executeAction(this.deps.actions, job.data, this.deps.flowRun);
    if (outcome.status === 'failed') this.deps.log.warn({ automation_id: job.data.automation.id, firing_id: job.data.firing.id, reason: outcome.reason }, 'automation action failed');
    // Both idempotent (outcome by action index, event by derived id), so they go out together.
    await Promise.all([recordFirings(this.deps.pg, [write]), this.deps.bus.publish(event)]);
    this.deps.metrics?.automationActions.inc({ type: job.data.action.type, outcome: outcome.status });
  }
}
