import { sha256Hex } from '../../../core/ids.ts';
import { compileFlowControl, type FlowPlan } from './flow-control.ts';
import type { Automation, EventTrigger, Trigger } from '../../../schemas/automation.ts';
import { ENGINE_EVENT_PREFIX, resourceId } from '../../../core/names.ts';
import type { ReflexEvent } from '../../../schemas/event.ts';
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
  /** Flow control on what the actions start (flow-control.ts), or null. */
  flow: FlowPlan | null;
}

export function triggerHash(trigger: Trigger): string {
  return sha256Hex(JSON.stringify(trigger)).slice(0, 12);
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
    // Metric triggers (issue 15) read measures on a loop of their own (services/automations/metrics.ts): no event leaves.
    if (t.type === 'metric') return;
    const size = t.triggers.length;
    const need = t.type === 'sequence' ? size : t.require === 'any' ? 1 : t.require === 'all' ? size : t.require;
    const node: CompositePlan = { ...link, path, params: { kind: t.type, need, size, withinMs: Math.round(t.within * 1000) } };
    composites.push(node);
    t.triggers.forEach((child, i) => walk(child, `${path}.${i}`, { parent: node, indexInParent: i }));
  };
  walk(automation.trigger, 't', { parent: null, indexInParent: 0 });
  return { automation, hash: triggerHash(automation.trigger), leaves, composites, flow: compileFlowControl(automation.flow_control) };
}

export interface LeafRef {
  plan: AutomationPlan;
  leaf: LeafPlan;
}

/**
 * Finds the leaves an event can concern: by exact event name, plus the leaves that use wildcards. The
 * engine's own events (`reflex.*`) reach a wildcard leaf only when it names them (a `reflex.` pattern in
 * expect or after, or a `reflex.` resource id in match): a trigger written for user events never reacts
 * to the firings, actions and deliveries it causes itself. Without that rule, a few catch-all automations
 * multiplied every event by their outcome events (4 of them made one event into 633).
 */
export class PlanIndex {
  private readonly exact = new Map<string, LeafRef[]>();
  private readonly wildcard: LeafRef[] = [];
  private readonly wildcardEngine: LeafRef[] = [];
  readonly plans: Map<string, AutomationPlan>;
  /** The plans with a leaf that can match an engine event (`reflex.*`): while none, no one reads the engine's subject tree. */
  readonly engineWatchers: AutomationPlan[] = [];

  constructor(plans: AutomationPlan[]) {
    this.plans = new Map(plans.map((p) => [p.automation.id, p]));
    for (const plan of plans) {
      let watches = false;
      for (const leaf of plan.leaves) {
        const names = leaf.compiled.exactNames;
        if (!names) {
          this.wildcard.push({ plan, leaf });
          if (leaf.compiled.namesEngineEvents) this.wildcardEngine.push({ plan, leaf });
          watches ||= leaf.compiled.namesEngineEvents;
          continue;
        }
        watches ||= names.some((n) => n.startsWith(ENGINE_EVENT_PREFIX));
        for (const n of names) {
          let list = this.exact.get(n);
          if (!list) this.exact.set(n, (list = []));
          list.push({ plan, leaf });
        }
      }
      if (watches) this.engineWatchers.push(plan);
    }
  }

  /**
   * Whether an engine outcome event of this name (`reflex.*`) can match any automation: when not, the
   * automations service acknowledges it without decoding it (they are most of the stream: each
   * qualifying event brings `reflex.automation.triggered`, `…action.executed` and
   * `reflex.webhook.delivery.succeeded`).
   */
  engineEventMayMatch(name: string): boolean {
    return this.wildcardEngine.length > 0 || this.exact.has(name);
  }

  candidates(event: ReflexEvent): LeafRef[] {
    const wildcard = event.event.startsWith(ENGINE_EVENT_PREFIX) ? this.wildcardEngine : this.wildcard;
    const exact = this.exact.get(event.event);
    if (!exact) return wildcard;
    if (wildcard.length === 0) return exact;
    return [...exact, ...wildcard];
  }
}

/** Events caused through this many automations are not evaluated again. */
export const MAX_CHAIN = 4;

export function automationResourceId(id: string): string {
  return resourceId('automation', id);
}
