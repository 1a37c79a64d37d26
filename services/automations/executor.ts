import { Worker, type Job } from 'bullmq';
import { LiquidError } from 'liquidjs';
import { ZodError } from 'zod';
import { coalesced } from '../../core/coalesce.ts';
import { systemEvent } from '../../core/events.ts';
import type { Runtime } from '../../core/runtime.ts';
import { WORKER_LOCKS } from '../../core/worker-locks.ts';
import type { ReflexEvent } from '../../schemas/event.ts';
import { ActionFailure, inferId, liveActionDeps, performAction, type ActionDeps, type Outcome } from './actions.ts';
import { actionJobId, automationResource, causedRelated, deterministicUuid, type ActionJobData } from './firing.ts';
import { recordFirings, type FiringWrite } from './repository.ts';
import type { TemplateContext } from './templates.ts';

/**
 * The action executor: a BullMQ worker on the automation-actions queue, where the dispatcher puts the
 * actions it could not perform itself because of an infrastructure error (dispatch.ts). For each job it
 * performs the action, records the outcome on the firing and emits its event; infrastructure errors throw,
 * so BullMQ retries the job with backoff.
 */
export class ActionExecutor {
  private worker: Worker<ActionJobData> | undefined;
  private readonly deps: ActionDeps;

  constructor(private readonly rt: Runtime, private readonly concurrency: number) {
    this.deps = liveActionDeps(rt);
  }

  start(): void {
    this.worker = new Worker<ActionJobData>(this.rt.names.queues.automationActions, (job) => this.process(job), {
      connection: this.rt.redisConnection('automation-actions'),
      prefix: this.rt.names.bullPrefix,
      concurrency: this.concurrency,
      ...WORKER_LOCKS,
    });
    this.worker.on('error', (err) => this.rt.log.error({ err }, 'automation action worker error'));
  }

  async stop(): Promise<void> {
    await this.worker?.close();
  }

  private async process(job: Job<ActionJobData>): Promise<void> {
    const { write, event } = await executeAction(this.rt, this.deps, job.data);
    // Both idempotent (outcome by action index, event by derived id), so they go out together.
    await Promise.all([recordFirings(this.rt.pg, [write]), this.rt.bus.publish(event)]);
  }
}

/**
 * Performs one action of a firing and answers what to record: its outcome, and its
 * `reflex.automation.action.executed` / `.failed` event. Throws only for infrastructure errors (worth a
 * retry); everything the user can fix (templates, targets, refused commands) is a failed outcome.
 */
export async function executeAction(rt: Runtime, deps: ActionDeps, data: ActionJobData): Promise<{ write: FiringWrite; event: ReflexEvent }> {
  const ctx = await templateContext(rt, data);
  let outcome: Outcome;
  try {
    outcome = await performAction(deps, data, ctx);
  } catch (err) {
    const reason = failureReason(err);
    if (reason === null) throw err;
    outcome = { status: 'failed', reason, detail: {} };
  }
  if (outcome.status === 'failed') rt.log.warn({ automation_id: data.automation.id, firing_id: data.firing.id, reason: outcome.reason }, 'automation action failed');
  const related = causedRelated(data.automation.id, data.firing.triggering_event);
  if (outcome.target) related.unshift({ 'reflex.resource.id': outcome.target, 'reflex.resource.role': 'target' });
  return {
    write: {
      firing: data.firing,
      actionTypes: data.action_types ?? [data.action.type],
      outcome: { index: data.index, type: data.action.type, status: outcome.status, ...(outcome.reason ? { reason: outcome.reason } : {}), detail: outcome.detail },
    },
    event: systemEvent(`reflex.automation.action.${outcome.status}`, automationResource(data.automation), {
      id: deterministicUuid(`${actionJobId(data.firing.id, data.index)}/outcome`),
      related,
      payload: {
        firing_id: data.firing.id,
        action_index: data.index,
        action_type: data.action.type,
        ...(outcome.reason ? { reason: outcome.reason } : {}),
        ...outcome.detail,
      },
    }),
  };
}

/** A reason for failures the user can fix; null for infrastructure errors (retried). */
export function failureReason(err: unknown): string | null {
  if (err instanceof ActionFailure) return err.message;
  if (err instanceof LiquidError) return `template error: ${err.message}`;
  if (err instanceof ZodError) return `invalid action result: ${err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
  return null;
}

/** `event`, `automation`, `trigger`, `labels`, `firing` and (for flow-run events) `flow_run`. */
export async function templateContext(rt: Runtime | null, data: ActionJobData): Promise<TemplateContext> {
  const f = data.firing;
  const flowRunId = inferId('flow-run', data);
  return {
    event: f.triggering_event,
    automation: data.automation,
    labels: f.triggering_labels,
    firing: { id: f.id, state: f.state, fired_at: f.fired_at },
    trigger: {
      path: f.trigger_path,
      key: f.bucket_key,
      labels: f.triggering_labels,
      count: f.count,
      window: { start: f.window_start, end: f.window_end },
      state: f.state,
    },
    flow_run: rt && flowRunId ? await loadFlowRun(rt, flowRunId) : null,
  };
}

const flowRunReaders = new WeakMap<Runtime, (id: string) => Promise<Record<string, unknown> | null>>();

/**
 * Reads the flow run (the row, as JSON) from the orchestration tables; null when absent. Actions of the
 * firings of one batch perform together, so their reads share one query.
 */
function loadFlowRun(rt: Runtime, id: string): Promise<Record<string, unknown> | null> {
  let read = flowRunReaders.get(rt);
  if (!read) {
    read = coalesced(async (ids: readonly string[]) => {
      const res = await rt.pg.query('SELECT * FROM flow_runs WHERE id = ANY($1::uuid[])', [ids]);
      return new Map(res.rows.map((r) => [r.id as string, JSON.parse(JSON.stringify(r)) as Record<string, unknown>]));
    });
    flowRunReaders.set(rt, read);
  }
  return read(id);
}
