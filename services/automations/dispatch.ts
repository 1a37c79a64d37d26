import type { JobsOptions, Queue } from 'bullmq';
import { systemEvent } from '../../core/events.ts';
import type { Runtime } from '../../infra/runtime.ts';
import type { Automation } from '../../schemas/automation.ts';
import type { ReflexEvent } from '../../schemas/event.ts';
import type { ActionDeps } from '../../modules/automations/engine/actions.ts';
import { executeAction } from './executor.ts';
import { actionJobId, actionsOf, automationResource, causedRelated, deterministicUuid, type ActionJobData, type Firing } from '../../modules/automations/engine/firing.ts';
import { recordFirings, type FiringWrite } from '../../modules/automations/repository.ts';
import type { StateStore } from '../../modules/automations/engine/state-store.ts';

export interface DispatchDeps {
  /** The automation-actions queue: actions that met an infrastructure error are retried from there. */
  queue: Queue;
  store: StateStore;
  automations: (id: string) => Automation | undefined;
  actions: ActionDeps;
}

/**
 * Makes firings durable and visible, and performs their actions: every action of the batch is performed
 * at once (a webhook handed to the webhook service, a flow-run command executed, an event emitted), then
 * the firings are recorded with their outcomes, and the triggered and action events published. An action
 * that meets an infrastructure error becomes a job on the automation-actions queue, retried with backoff
 * by the executor. Everything is idempotent (firing ids, action keys, event ids derived from the firing
 * key), so running this twice for a firing is safe: that is how a crashed replica's firings are finished
 * by another. The pending copies in Redis are forgotten last.
 */
export async function dispatchFirings(rt: Runtime, deps: DispatchDeps, firings: Firing[], options: { again?: boolean } = {}): Promise<void> {
  if (firings.length === 0) return;
  const known = firings.filter((f) => deps.automations(f.automation_id));
  // A firing dispatched again (its first dispatch died) skips the actions whose outcome was recorded.
  const done = options.again ? await recordedOutcomes(rt, known.map((f) => f.id)) : new Set<string>();
  const actions: ActionJobData[] = [];
  const events: ReflexEvent[] = [];
  const records: FiringWrite[] = [];
  for (const firing of known) {
    const automation = deps.automations(firing.automation_id)!;
    const meta = { id: automation.id, name: automation.name, description: automation.description, tags: automation.tags };
    const list = actionsOf(automation, firing);
    const action_types = list.map((a) => a.type);
    records.push({ firing, actionTypes: action_types });
    list.forEach((action, index) => {
      if (!done.has(actionJobId(firing.id, index))) actions.push({ firing, automation: meta, action, index, action_types });
    });
    const resource = automationResource(automation);
    if (automation.trigger.type === 'event') resource['reflex.posture'] = automation.trigger.posture;
    events.push(
      systemEvent(`reflex.automation.${firing.state}`, resource, {
        id: deterministicUuid(`${firing.key}/event`),
        occurred: firing.fired_at,
        related: causedRelated(automation.id, firing.triggering_event),
        payload: {
          firing_id: firing.id,
          trigger_path: firing.trigger_path,
          triggering_labels: firing.triggering_labels,
          triggering_event: firing.triggering_event,
          count: firing.count,
          window: { start: firing.window_start, end: firing.window_end },
        },
      }),
    );
  }

  const retries: { name: string; data: ActionJobData; opts: JobsOptions }[] = [];
  const performed = await Promise.allSettled(actions.map((data) => executeAction(rt, deps.actions, data)));
  performed.forEach((p, i) => {
    if (p.status === 'fulfilled') {
      records.push(p.value.write);
      events.push(p.value.event);
    } else {
      const data = actions[i];
      rt.log.warn({ err: p.reason, firing_id: data.firing.id, action_index: data.index }, 'action failed on an outage; queued for retry');
      retries.push({ name: data.action.type, data, opts: actionJobOptions(actionJobId(data.firing.id, data.index)) });
    }
  });
  // Triggered events are published before the action events of the same firings (same connection, in order).
  await Promise.all([
    recordFirings(rt.pg, records),
    retries.length > 0 ? deps.queue.addBulk(retries) : undefined,
    rt.bus.publishMany(events),
  ]);
  // Not awaited: a pending copy left behind is only dispatched again, idempotently, by the sweep.
  deps.store.clearPending(firings.map((f) => f.key)).catch((err) => rt.log.warn({ err }, 'could not clear pending firings'));
}

/** The keys (`<firing>-<index>`) of the actions of these firings whose outcome is recorded. */
async function recordedOutcomes(rt: Runtime, firingIds: string[]): Promise<Set<string>> {
  const res = await rt.pg.query<{ key: string }>(
    `SELECT f.id || '-' || (a->>'index') AS key FROM automation_firings f, jsonb_array_elements(f.actions) AS a
     WHERE f.id = ANY($1::uuid[]) AND a->>'status' <> 'pending'`,
    [firingIds],
  );
  return new Set(res.rows.map((r) => r.key));
}

/** A retried action: the job id is the action's key, so a repeat adds nothing. */
function actionJobOptions(jobId: string): JobsOptions {
  return { jobId, attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { age: 3600, count: 10_000 }, removeOnFail: { age: 24 * 3600 } };
}
