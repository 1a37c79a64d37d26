import type { JobsOptions, Queue } from 'bullmq';
import { systemEvent } from '../../core/events.ts';
import type { Runtime } from '../../core/runtime.ts';
import type { Action, Automation } from '../../schemas/automation.ts';
import type { RelatedResource, ReflexEvent } from '../../schemas/event.ts';
import { actionJobId, deterministicUuid, type Firing } from './firing.ts';
import { automationResourceId, chainOf, CHAIN_ROLE } from './plan.ts';
import { insertFirings } from './repository.ts';
import type { StateStore } from './store.ts';

/** The data of one job on the automation-actions queue: everything the executor needs, no lookups. */
export interface ActionJobData {
  firing: Firing;
  automation: Pick<Automation, 'id' | 'name' | 'description' | 'tags'>;
  action: Action;
  index: number;
  /** Types of all actions of the firing (the executor may create the firing row). */
  action_types: string[];
}

export function actionsOf(automation: Automation, firing: Pick<Firing, 'state'>): Action[] {
  return firing.state === 'triggered' ? automation.actions : automation.actions_on_resolve;
}

/**
 * The related resources of every event caused by an automation: the triggering event, and the causal
 * chain of automations (the triggering event's chain plus this automation) that the loop guard reads.
 */
export function causedRelated(automationId: string, triggering: ReflexEvent | null): RelatedResource[] {
  const related: RelatedResource[] = [];
  if (triggering) related.push({ 'reflex.resource.id': `reflex.event.${triggering.id}`, 'reflex.resource.role': 'triggering-event' });
  const chain = new Set(triggering ? chainOf(triggering) : []);
  chain.add(automationResourceId(automationId));
  for (const id of chain) related.push({ 'reflex.resource.id': id, 'reflex.resource.role': CHAIN_ROLE });
  return related;
}

export function automationResource(automation: Pick<Automation, 'id' | 'name'>): Record<string, string> {
  return { 'reflex.resource.id': automationResourceId(automation.id), 'reflex.resource.name': automation.name };
}

/**
 * Makes firings durable and visible: records them (once, by firing key), enqueues one job per action
 * (job id derived from the firing id, so a repeat is a no-op), publishes the triggered/resolved events
 * (event id derived too, so JetStream drops a repeat), then forgets the pending copies. Safe to run twice
 * for the same firing: that is how a crashed replica's firings are finished by another.
 */
export async function dispatchFirings(
  rt: Runtime,
  deps: { queue: Queue; store: StateStore; automations: (id: string) => Automation | undefined },
  firings: Firing[],
): Promise<void> {
  if (firings.length === 0) return;
  const known = firings.filter((f) => deps.automations(f.automation_id));
  const jobs: { name: string; data: ActionJobData; opts: JobsOptions }[] = [];
  const events: ReflexEvent[] = [];
  for (const firing of known) {
    const automation = deps.automations(firing.automation_id)!;
    const meta = { id: automation.id, name: automation.name, description: automation.description, tags: automation.tags };
    const actions = actionsOf(automation, firing);
    const action_types = actions.map((a) => a.type);
    actions.forEach((action, index) => {
      const jobId = actionJobId(firing.id, index);
      const data: ActionJobData = { firing, automation: meta, action, index, action_types };
      jobs.push({ name: action.type, data, opts: { jobId, attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { age: 3600, count: 10_000 }, removeOnFail: { age: 24 * 3600 } } });
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
  // The record, the jobs and the events go out together; each is idempotent on its own.
  await Promise.all([
    insertFirings(rt.pg, known, (f) => actionsOf(deps.automations(f.automation_id)!, f).map((a) => a.type)),
    jobs.length > 0 ? deps.queue.addBulk(jobs) : undefined,
    rt.bus.publishMany(events),
  ]);
  // Not awaited: a pending copy left behind is only dispatched again, idempotently, by the sweep.
  deps.store.clearPending(firings.map((f) => f.key)).catch((err) => rt.log.warn({ err }, 'could not clear pending firings'));
}
