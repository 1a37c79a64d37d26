import { sha256Hex } from '../../../core/ids.ts';
import { chainOf, chainRelated } from '../../../core/events.ts';
import { resourceId, Roles } from '../../../core/names.ts';
import type { Action, Automation } from '../../../schemas/automation.ts';
import type { RelatedResource, ReflexEvent } from '../../../schemas/event.ts';
import type { Firing } from '../../../schemas/jobs.ts';

/** Firings (schemas/jobs.ts `FiringSchema`): their keys, actions and the related resources of what they cause. */

export type { Firing, ActionJobData } from '../../../schemas/jobs.ts';

export function firingKey(parts: string[]): string {
  return sha256Hex(parts.join('\u0000'));
}

export function shortHash(text: string): string {
  return sha256Hex(text).slice(0, 16);
}

/**
 * Key of one action of a firing: the BullMQ job id of its retry and the idempotency key of what it
 * forwards. A triggered firing runs `actions`, a resolved one `actions_on_resolve`; the firing id already
 * differs between the two.
 */
export function actionJobId(firingId: string, index: number): string {
  return `${firingId}-${index}`;
}

export function actionsOf(automation: Automation, firing: Pick<Firing, 'state'>): Action[] {
  switch (firing.state) {
    case 'triggered':
      return automation.actions;
    case 'resolved':
      return automation.actions_on_resolve;
    case 'rate-limited':
      // Dropped by flow control: recorded, nothing started.
      return [];
  }
}

/**
 * The related resources of every event caused by an automation: the triggering event, and the causal
 * chain of automations (the triggering event's chain plus this automation) that the loop guard reads.
 */
export function causedRelated(automationId: string, triggering: ReflexEvent | null): RelatedResource[] {
  const related: RelatedResource[] = [];
  if (triggering) related.push({ 'reflex.resource.id': resourceId('event', triggering.id), 'reflex.resource.role': Roles.triggeringEvent });
  related.push(...chainRelated([...(triggering ? chainOf(triggering) : []), resourceId('automation', automationId)]));
  return related;
}

export function automationResource(automation: Pick<Automation, 'id' | 'name'>): Record<string, string> {
  return { 'reflex.resource.id': resourceId('automation', automation.id), 'reflex.resource.name': automation.name };
}

/** An action's outcome as the firing history keeps it. */
export interface ActionOutcome {
  index: number;
  type: string;
  status: 'pending' | 'executed' | 'failed';
  reason?: string;
  detail?: Record<string, unknown>;
  updated?: string;
}

export interface FiringWrite {
  firing: Firing;
  /** Types of all actions of the firing (the row lists them, `pending` until their outcome is in). */
  actionTypes: string[];
  /** An action's outcome to record; without one, only the firing (if new). */
  outcome?: ActionOutcome;
}

