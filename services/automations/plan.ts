import { createHash } from 'node:crypto';
import type { Automation, EventTrigger, Trigger } from '../../schemas/automation.ts';
import type { ReflexEvent } from '../../schemas/event.ts';
import type { BucketParams } from './buckets.ts';
import type { CompositeParams } from './composite.ts';
import { compileEventTrigger, type CompiledEventTrigger } from './match.ts';

/**
 * An automation compiled for evaluation: every event trigger of the tree is a leaf with its matcher and
 * bucket parameters; compound and sequence nodes carry their counting parameters. Trigger paths (`t`,
 * `t.0`, `t.0.1`) name the nodes; with the trigger hash they name all trigger state, so a changed trigger
 * starts from fresh state (as Prefect does when it regenerates trigger ids) while a pause keeps it.
 */

export interface NodeLink {
  parent: CompositePlan | null;
  indexInParent: number;
}

export interface LeafPlan extends NodeLink {
  path: string;
  trigger: EventTrigger;
  compiled: CompiledEventTrigger;
  params: BucketParams;
  /** Reactive, no window, threshold 1, no after: each matching event fires without stored state. */
  immediate: boolean;
}

export interface CompositePlan extends NodeLink {
  path: string;
  params: CompositeParams;
}

export interface AutomationPlan {
  automation: Automation;
  /** Short hash of the trigger tree; part of every state key. */
  hash: string;
  leaves: LeafPlan[];
  composites: CompositePlan[];
}

export function triggerHash(trigger: Trigger): string {
  return createHash('sha256').update(JSON.stringify(trigger)).digest('hex').slice(0, 12);
}

export function compilePlan(automation: Automation): AutomationPlan {
  const leaves: LeafPlan[] = [];
  const composites: CompositePlan[] = [];
  const walk = (t: Trigger, path: string, link: NodeLink) => {
    if (t.type === 'event') {
      const params: BucketParams = {
        posture: t.posture,
        threshold: t.threshold,
        withinMs: Math.round(t.within * 1000),
        hasAfter: t.after.length > 0,
        hasForEach: t.for_each.length > 0,
      };
      const immediate = t.posture === 'Reactive' && params.withinMs === 0 && t.threshold <= 1 && !params.hasAfter;
      leaves.push({ ...link, path, trigger: t, compiled: compileEventTrigger(t), params, immediate });
      return;
    }
    const size = t.triggers.length;
    const need = t.type === 'sequence' ? size : t.require === 'any' ? 1 : t.require === 'all' ? size : t.require;
    const node: CompositePlan = { ...link, path, params: { kind: t.type, need, size, withinMs: Math.round(t.within * 1000) } };
    composites.push(node);
    t.triggers.forEach((child, i) => walk(child, `${path}.${i}`, { parent: node, indexInParent: i }));
  };
  walk(automation.trigger, 't', { parent: null, indexInParent: 0 });
  return { automation, hash: triggerHash(automation.trigger), leaves, composites };
}

export interface LeafRef {
  plan: AutomationPlan;
  leaf: LeafPlan;
}

/** Finds the leaves an event can concern: by exact event name, plus every leaf that uses wildcards. */
export class PlanIndex {
  private readonly exact = new Map<string, LeafRef[]>();
  private readonly wildcard: LeafRef[] = [];
  readonly plans: Map<string, AutomationPlan>;

  constructor(plans: AutomationPlan[]) {
    this.plans = new Map(plans.map((p) => [p.automation.id, p]));
    for (const plan of plans) {
      for (const leaf of plan.leaves) {
        const names = leaf.compiled.exactNames;
        if (!names) {
          this.wildcard.push({ plan, leaf });
          continue;
        }
        for (const n of names) {
          let list = this.exact.get(n);
          if (!list) this.exact.set(n, (list = []));
          list.push({ plan, leaf });
        }
      }
    }
  }

  candidates(event: ReflexEvent): LeafRef[] {
    const exact = this.exact.get(event.event);
    if (!exact) return this.wildcard;
    if (this.wildcard.length === 0) return exact;
    return [...exact, ...this.wildcard];
  }
}

/** Role of the related resources that record which automations caused an event (loop guard). */
export const CHAIN_ROLE = 'automation-chain';
/** Events caused through this many automations are not evaluated again. */
export const MAX_CHAIN = 8;

export function automationResourceId(id: string): string {
  return `reflex.automation.${id}`;
}

/** The automation resource ids in an event's causal chain. */
export function chainOf(event: ReflexEvent): string[] {
  const out: string[] = [];
  for (const r of event.related) if (r['reflex.resource.role'] === CHAIN_ROLE) out.push(r['reflex.resource.id']);
  return out;
}
