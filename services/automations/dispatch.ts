import { JOBS } from '../../core/jobs.ts';
import { systemEvent } from '../../core/events.ts';
import { deterministicUuid } from '../../core/ids.ts';
import type { Logger } from '../../core/log.ts';
import { EventNames } from '../../core/names.ts';
import type { EventBus } from '../../infra/bus.ts';
import type { Pool } from '../../infra/db.ts';
import type { Metrics } from '../../infra/metrics.ts';
import { currentTraceparent, inSpan, type Context } from '../../infra/tracing.ts';
import type { Queues } from '../../infra/queues.ts';
import {
  actionJobId,
  actionsOf,
  automationResource,
  causedRelated,
  executeAction,
  recordedOutcomes,
  recordFirings,
  type ActionDeps,
  type ActionJobData,
  type Firing,
  type FiringWrite,
  type StateStore,
} from '../../modules/automations/index.ts';
import type { Automation } from '../../schemas/automation.ts';
import type { ReflexEvent } from '../../schemas/event.ts';
import type { FlowRun } from '../../schemas/flow-run.ts';

export interface DispatchDeps {
  pg: Pool;
  bus: EventBus;
  /** Where actions that met an infrastructure error are queued for the executor's retries. */
  queues: Queues;
  log: Logger;
  store: StateStore;
  automations: (id: string) => Automation | undefined;
  actions: ActionDeps;
  flowRun: (id: string) => Promise<FlowRun | null>;
  metrics?: Metrics;
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
export async function dispatchFirings(
  deps: DispatchDeps,
  firings: Firing[],
  // `pending: false`: the firings have no pending copy in Redis (Computed.pending), so none is cleared.
  options: { again?: boolean; pending?: boolean; traceOf?: (eventId: string) => Context | undefined } = {},
): Promise<void> {
  if (firings.length === 0) return;
  const known = firings.filter((f) => deps.automations(f.automation_id));
  // A firing dispatched again (its first dispatch died) skips the actions whose outcome was recorded.
  const done = options.again ? await recordedOutcomes(deps.pg, known.map((f) => f.id)) : new Set<string>();
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
      systemEvent(EventNames.automationFiring(firing.state), resource, {
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
          ...(firing.flow_control ? { flow_control: firing.flow_control } : {}),
        },
      }),
    );
  }

  const retries: ActionJobData[] = [];
  const traceOf = options.traceOf;
  const perform = (data: ActionJobData) => executeAction(deps.actions, data, deps.flowRun);
  const performed = await Promise.allSettled(
    actions.map((data) => {
      const parent = traceOf && data.firing.triggering_event ? traceOf(data.firing.triggering_event.id) : undefined;
      if (!parent) return perform(data);
      // The action's span: what it enqueues (a delivery, a flow run) carries it; a retry job too.
      return inSpan(`reflex.automation.action ${data.action.type}`, { parent, attributes: { 'reflex.automation.id': data.automation.id, 'reflex.firing.id': data.firing.id, 'reflex.action.index': data.index } }, () => {
        data.traceparent = currentTraceparent();
        return perform(data);
      });
    }),
  );
  performed.forEach((p, i) => {
    const data = actions[i];
    if (p.status === 'fulfilled') {
      records.push(p.value.write);
      events.push(p.value.event);
      if (p.value.outcome.status === 'failed') deps.log.warn({ automation_id: data.automation.id, firing_id: data.firing.id, reason: p.value.outcome.reason }, 'automation action failed');
    } else {
      deps.log.warn({ err: p.reason, firing_id: data.firing.id, action_index: data.index }, 'action failed on an outage; queued for retry');
      retries.push(data);
    }
  });
  // Triggered events are published before the action events of the same firings (same connection, in order).
  await Promise.all([recordFirings(deps.pg, records), deps.queues.addBulk(JOBS.automationAction, retries, []), deps.bus.publishMany(events)]);
  // Counted once durable: a dispatch that throws is redone (redelivery or the sweep) and counted then.
  // A firing dispatched again after a crash counts again (at-least-once, as the dispatch itself).
  if (deps.metrics) {
    for (const f of known) deps.metrics.automationFirings.inc({ state: f.state });
    performed.forEach((p, i) => {
      const outcome = p.status === 'fulfilled' ? p.value.outcome.status : 'retry';
      deps.metrics?.automationActions.inc({ type: actions[i].action.type, outcome });
    });
  }
  // Not awaited: a pending copy left behind is only dispatched again, idempotently, by the sweep.
  if (options.pending === false) return;
  deps.store.clearPending(firings.map((f) => f.key)).catch((err) => deps.log.warn({ err }, 'could not clear pending firings'));
}
