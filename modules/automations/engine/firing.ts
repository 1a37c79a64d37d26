import { createHash } from 'node:crypto';
import type { Action, Automation } from '../../../schemas/automation.ts';
import type { RelatedResource, ReflexEvent } from '../../../schemas/event.ts';
import { chainOf, chainRelated } from '../../../core/events.ts';
import { automationResourceId } from './plan.ts';

/** One firing of an automation's trigger (triggered or resolved), before and after it is recorded. */
export interface Firing {
  /** Deterministic UUID derived from `key`. */
  id: string;
  /** Deterministic firing key (hashed): automation, trigger hash, path, bucket, window/sequence. */
  key: string;
  automation_id: string;
  state: 'triggered' | 'resolved';
  trigger_path: string;
  bucket_key: string;
  triggering_labels: Record<string, string>;
  triggering_event: ReflexEvent | null;
  count: number;
  window_start: string | null;
  window_end: string | null;
  fired_at: string;
}

export { deterministicUuid } from '../../../core/ids.ts';

export function firingKey(parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}

export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * BullMQ job id (and idempotency key of forwarded jobs) of one action of a firing. A triggered firing runs
 * `actions`, a resolved one `actions_on_resolve`; the firing id already differs between the two.
 */
export function actionJobId(firingId: string, index: number): string {
  return `${firingId}-${index}`;
}

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
  related.push(...chainRelated([...(triggering ? chainOf(triggering) : []), automationResourceId(automationId)]));
  return related;
}

export function automationResource(automation: Pick<Automation, 'id' | 'name'>): Record<string, string> {
  return { 'reflex.resource.id': automationResourceId(automation.id), 'reflex.resource.name': automation.name };
}
