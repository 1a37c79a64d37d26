import { stateKeys } from '../../../core/names.ts';
import type { Firing } from './firing.ts';
import { gateFiring, tickFlow, type FlowDecision, type FlowState } from './flow-control.ts';
import type { AutomationPlan } from './plan.ts';
import type { Commit, Versioned } from './state-store.ts';

/**
 * The flow-control step of a batch, after its triggers were evaluated: the triggered firings of
 * automations with flow control go through their key's gate, and due flow deadlines are ticked. It reads
 * only flow state (`f|` keys), so the evaluator loads those keys once it knows the firings (one more
 * round trip, only for batches with gated firings) instead of guessing them for every event.
 */

export interface Gate {
  plan: AutomationPlan;
  firing: Firing;
}

export interface FlowTick {
  plan: AutomationPlan;
  key: string;
}

export interface FlowComputed {
  writes: Commit['writes'];
  timers: Commit['timers'];
  firings: Firing[];
  decisions: FlowDecision[];
}

/** The flow state key a gated firing reads. */
export function gateStateKey(g: Gate): string {
  return stateKeys.flow(g.plan.automation.id, g.plan.flow!.keyOf(g.firing.triggering_event));
}

export function computeFlow(gates: Gate[], ticks: FlowTick[], loaded: Map<string, Versioned>, now: number, options: { notes?: boolean } = {}): FlowComputed {
  const state = new Map<string, { version: number; value: FlowState | undefined; ttlMs?: number; dirty: boolean }>();
  const get = (k: string) => {
    let s = state.get(k);
    if (!s) {
      const v = loaded.get(k);
      state.set(k, (s = { version: v?.version ?? 0, value: v?.value as FlowState | undefined, dirty: false }));
    }
    return s;
  };
  const timers = new Map<string, number | null>();
  const firings: Firing[] = [];
  const decisions: FlowDecision[] = [];

  for (const t of ticks) {
    const s = get(t.key);
    if (!s.value) {
      timers.set(t.key, null);
      continue;
    }
    const r = tickFlow(t.plan.flow, t.key.split('|').slice(2).join('|'), s.value, now);
    Object.assign(s, { value: r.state, ttlMs: Math.max(r.ttlMs, 2000), dirty: true });
    timers.set(t.key, r.timer);
    firings.push(...r.released);
  }
  for (const g of gates) {
    const fp = g.plan.flow!;
    const fkey = fp.keyOf(g.firing.triggering_event);
    const skey = stateKeys.flow(g.plan.automation.id, fkey);
    const s = get(skey);
    const occurred = g.firing.triggering_event ? Date.parse(g.firing.triggering_event.occurred) : now;
    const r = gateFiring(fp, fkey, s.value, g.firing, Number.isFinite(occurred) ? occurred : now, now);
    Object.assign(s, { value: r.state, ttlMs: r.ttlMs, dirty: true });
    timers.set(skey, r.timer);
    firings.push(...r.released);
    if (options.notes) decisions.push(...r.decisions);
  }
  // Read and unchanged keys are checked too: a decision on a state another replica changed is retried.
  const writes: Commit['writes'] = [...state].map(([key, s]) => (s.dirty ? { key, version: s.version, value: s.value, ttlMs: s.ttlMs } : { key, version: s.version }));
  return { writes, timers: [...timers].map(([key, at]) => ({ key, at })), firings, decisions };
}
