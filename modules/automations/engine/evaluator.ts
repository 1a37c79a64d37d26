import type { ReflexEvent } from '../../../schemas/event.ts';
import { applyEvent, applyTick, emptyBucket, type BucketFiring, type BucketState } from './buckets.ts';
import { applyChildFiring, emptyComposite, type ChildFiring, type CompositeState } from './composite.ts';
import { deterministicUuid } from '../../../core/ids.ts';
import { stateKeys } from '../../../core/names.ts';
import { firingKey, shortHash, type Firing } from './firing.ts';
import { bucketKeyOfLabels, bucketOf, type Bucketing } from './match.ts';
import { chainOf } from '../../../core/events.ts';
import { automationResourceId, MAX_CHAIN, type AutomationPlan, type LeafPlan, type NodeLink, type PlanIndex } from './plan.ts';
import type { Commit, StateStore, Versioned } from './state-store.ts';
import type { FlowDecision } from './flow-control.ts';
import { computeFlow, gateStateKey, type FlowComputed, type FlowTick, type Gate } from './flow-batch.ts';

/**
 * Evaluates a batch of events (or due timers) against compiled automations. `computeBatch` is pure:
 * states in, new states + firings out. `Evaluator.run` loads the states the batch touches in one round
 * trip, computes, and commits them atomically with optimistic versions, retrying on a conflict, so the
 * Redis work per consumer batch is two round trips whatever the number of events and automations.
 */

export type Op =
  | { kind: 'event'; seq: number; at: number; event: ReflexEvent; msg?: number; plan: AutomationPlan; leaf: LeafPlan; bucket: Bucketing; arms: boolean; counts: boolean }
  | { kind: 'tick'; seq: number; at: number; plan: AutomationPlan; leaf: LeafPlan; key: string }
  /** A due flow-control deadline (state key `f|...`). */
  | { kind: 'flow'; seq: number; at: number; plan: AutomationPlan; key: string };

export interface Note {
  automation_id: string;
  trigger_path: string;
  state_key: string;
  labels: Record<string, string>;
  note: string;
}

export interface Computed {
  writes: Commit['writes'];
  timers: Commit['timers'];
  firings: Firing[];
  notes: Note[];
  /** What flow control did with each firing (only with `notes`). */
  decisions: FlowDecision[];
  /**
   * Set by Evaluator.run: the firings were committed as pending in the state store (a stateful trigger),
   * so their dispatch clears them there; a stateless trigger's firings never were (no Redis call for them).
   */
  pending?: boolean;
}

export function bucketStateKey(plan: AutomationPlan, leaf: LeafPlan, bucketKey: string): string {
  // Short keys are used as they are (cheap); long ones are hashed to bound the Redis key length.
  const k = bucketKey.length <= 96 && !bucketKey.includes('|') ? bucketKey : `#${shortHash(bucketKey)}`;
  return stateKeys.bucket(plan.automation.id, plan.hash, leaf.path, k);
}

function compositeStateKey(plan: AutomationPlan, path: string): string {
  return stateKeys.composite(plan.automation.id, plan.hash, path);
}

/** Splits a bucket state key (also the timer member) back into its parts. */
export const parseBucketStateKey = stateKeys.parseBucket;

/**
 * Matches events to trigger leaves. Pure; the loop guard drops events an automation itself caused.
 * `msgs` are the events' stream sequences (for redelivery detection), when they come from the stream.
 */
export function eventOps(index: PlanIndex, events: ReflexEvent[], msgs?: number[]): Op[] {
  const ops: Op[] = [];
  let seq = 0;
  for (const [i, event] of events.entries()) {
    const msg = msgs?.[i];
    const chain = event.related.length > 0 ? chainOf(event) : [];
    if (chain.length >= MAX_CHAIN) continue;
    const at = Date.parse(event.occurred);
    for (const { plan, leaf } of index.candidates(event)) {
      if (chain.length > 0 && chain.includes(automationResourceId(plan.automation.id))) continue;
      const m = leaf.compiled.test(event);
      if (!m) continue;
      ops.push({ kind: 'event', seq: seq++, at, event, msg, plan, leaf, bucket: bucketOf(leaf.trigger.for_each, event), arms: m.arms, counts: m.counts });
    }
  }
  return ops;
}

/** The state keys a batch reads: its buckets and every composite node of the automations involved. */
export function keysOf(ops: Op[]): string[] {
  const keys = new Set<string>();
  const plans = new Set<AutomationPlan>();
  for (const op of ops) {
    if (op.kind === 'flow') {
      keys.add(op.key);
      continue;
    }
    if (op.kind === 'tick') keys.add(op.key);
    else if (!op.leaf.immediate) keys.add(bucketStateKey(op.plan, op.leaf, op.bucket.key));
    // An immediate leaf fires on this very event, so its flow key is known now and loads in the first
    // round trip. Other firings are rare (a threshold reached, a window closed): rendering a key for
    // every event they count would cost more than the second load `run` does for their keys.
    if (op.kind === 'event' && op.plan.flow && op.leaf.immediate && !op.leaf.parent) keys.add(stateKeys.flow(op.plan.automation.id, op.plan.flow.keyOf(op.event)));
    if (op.leaf.parent) plans.add(op.plan);
  }
  for (const plan of plans) for (const c of plan.composites) keys.add(compositeStateKey(plan, c.path));
  return [...keys];
}

interface FiringInfo {
  bucketKey: string;
  labels: Record<string, string>;
  count: number;
  window: { start: number; end: number | null };
}

function computeTriggers(ops: Op[], loaded: Map<string, Versioned>, now: number, options: { notes?: boolean } = {}): Computed & { gates: Gate[]; flowTicks: FlowTick[] } {
  const state = new Map<string, { version: number; value: unknown; dirty: boolean }>();
  for (const [k, v] of loaded) state.set(k, { version: v.version, value: v.value, dirty: false });
  const readMissing = new Set<string>();
  const get = (k: string) => {
    const v = state.get(k);
    if (!v) readMissing.add(k);
    return v?.value;
  };
  const ttls = new Map<string, number>();
  const set = (k: string, value: unknown, windowMs: number) => {
    const cur = state.get(k);
    state.set(k, { version: cur?.version ?? 0, value, dirty: true });
    if (windowMs > 0) ttls.set(k, 2 * windowMs);
  };
  const proactiveKeys = new Set<string>();
  const timers: Commit['timers'] = [];
  const firings: Firing[] = [];
  const notes: Note[] = [];
  const note = (n: Note) => {
    if (options.notes) notes.push(n);
  };
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

  // Flow control runs after the triggers, on flow state only (flow-batch.ts).
  const gates: Gate[] = [];
  const flowTicks: FlowTick[] = [];
  const emit = (plan: AutomationPlan, path: string, kind: Firing['state'], key: string, event: ReflexEvent | null, info: FiringInfo) => {
    const firing: Firing = {
      id: deterministicUuid(key),
      key,
      automation_id: plan.automation.id,
      state: kind,
      trigger_path: path,
      bucket_key: info.bucketKey,
      triggering_labels: info.labels,
      triggering_event: event,
      count: info.count,
      window_start: iso(info.window.start),
      window_end: iso(info.window.end),
      fired_at: new Date(now).toISOString(),
    };
    // Flow control gates what the actions start; a resolution passes as it is.
    if (kind === 'triggered' && plan.flow) gates.push({ plan, firing });
    else firings.push(firing);
  };

  const propagate = (plan: AutomationPlan, node: NodeLink & { path: string }, child: ChildFiring, info: FiringInfo) => {
    const parent = node.parent;
    if (!parent) return emit(plan, node.path, 'triggered', child.key, child.event ?? null, info);
    const ckey = compositeStateKey(plan, parent.path);
    const r = applyChildFiring(parent.params, (get(ckey) as CompositeState | undefined) ?? emptyComposite(), node.indexInParent, child);
    set(ckey, r.state, parent.params.withinMs);
    note({ automation_id: plan.automation.id, trigger_path: parent.path, state_key: ckey, labels: {}, note: r.note });
    if (!r.fired) return;
    const times = r.fired.children.map((c) => c.at);
    const key = firingKey([plan.automation.id, plan.hash, parent.path, r.fired.discriminator]);
    propagate(plan, parent, { at: child.at, key, event: child.event }, {
      bucketKey: '',
      labels: {},
      count: r.fired.children.length,
      window: { start: Math.min(...times), end: Math.max(...times) },
    });
  };

  const handle = (plan: AutomationPlan, leaf: LeafPlan, bucketKey: string, labels: Record<string, string>, bf: BucketFiring) => {
    const key = firingKey([plan.automation.id, plan.hash, leaf.path, bucketKey, bf.discriminator]);
    const info: FiringInfo = { bucketKey, labels, count: bf.count, window: bf.window };
    // A resolution concerns the automation as a whole, whatever node it comes from.
    if (bf.kind === 'resolved') return emit(plan, leaf.path, 'resolved', key, bf.event, info);
    propagate(plan, leaf, { at: bf.at, key, event: bf.event }, info);
  };

  // Batches from the stream are usually already in occurred order; sort only when they are not.
  let ordered = true;
  for (let i = 1; i < ops.length && ordered; i++) ordered = ops[i - 1].at <= ops[i].at;
  const sorted = ordered ? ops : [...ops].sort((a, b) => a.at - b.at || a.seq - b.seq);
  for (const op of sorted) {
    if (op.kind === 'flow') {
      flowTicks.push({ plan: op.plan, key: op.key });
      continue;
    }
    const { plan, leaf } = op;
    if (op.kind === 'event') {
      if (leaf.immediate) {
        const stateKey = stateKeys.immediate(plan.automation.id, leaf.path, op.bucket.key);
        note({ automation_id: plan.automation.id, trigger_path: leaf.path, state_key: stateKey, labels: op.bucket.labels, note: 'fired (every matching event fires)' });
        handle(plan, leaf, op.bucket.key, op.bucket.labels, {
          kind: 'triggered',
          discriminator: `e-${op.event.id}`,
          event: op.event,
          count: 1,
          window: { start: op.at, end: null },
          at: op.at,
        });
        continue;
      }
      const key = bucketStateKey(plan, leaf, op.bucket.key);
      const prev = (get(key) as BucketState | undefined) ?? emptyBucket(op.bucket.labels);
      const r = applyEvent(leaf.params, prev, op.event, op.arms, op.counts, op.at);
      if (r.state !== prev) set(key, r.state, leaf.params.withinMs);
      if (leaf.params.posture === 'Proactive') proactiveKeys.add(key);
      note({ automation_id: plan.automation.id, trigger_path: leaf.path, state_key: key, labels: op.bucket.labels, note: r.note });
      for (const f of r.firings) handle(plan, leaf, op.bucket.key, r.state.labels, f);
    } else {
      const prev = get(op.key) as BucketState | undefined;
      if (!prev) {
        timers.push({ key: op.key, at: null });
        continue;
      }
      const r = applyTick(leaf.params, prev, now);
      if (r.state !== prev) set(op.key, r.state, leaf.params.withinMs);
      proactiveKeys.add(op.key);
      note({ automation_id: plan.automation.id, trigger_path: leaf.path, state_key: op.key, labels: prev.labels, note: r.note });
      const bucketKey = bucketKeyOfLabels(leaf.trigger.for_each, prev.labels);
      for (const f of r.firings) handle(plan, leaf, bucketKey, prev.labels, f);
    }
  }

  for (const key of proactiveKeys) {
    const s = state.get(key)?.value as BucketState | undefined;
    timers.push({ key, at: s && s.active && s.end !== null ? s.end : null });
  }
  // Keys that were read but not changed are still checked: a decision taken on a state another
  // replica changed meanwhile must be retried too.
  const writes: Commit['writes'] = [];
  for (const [key, v] of state) writes.push(v.dirty ? { key, version: v.version, value: v.value, ttlMs: ttls.get(key) } : { key, version: v.version });
  for (const key of readMissing) if (!state.has(key)) writes.push({ key, version: 0 });
  return { writes, timers, firings, notes, decisions: [], gates, flowTicks };
}

/**
 * A whole batch, triggers then flow control, over states already loaded (flow keys missing from
 * `loaded` count as absent). The evaluator runs the two steps itself, loading flow keys in between.
 */
export function computeBatch(ops: Op[], loaded: Map<string, Versioned>, now: number, options: { notes?: boolean } = {}): Computed {
  const { gates, flowTicks, ...t } = computeTriggers(ops, loaded, now, options);
  return mergeFlow(t, computeFlow(gates, flowTicks, loaded, now, options));
}

function mergeFlow(t: Computed, f: FlowComputed): Computed {
  if (f.writes.length === 0 && f.timers.length === 0) return t;
  return { writes: [...t.writes, ...f.writes], timers: [...t.timers, ...f.timers], firings: [...t.firings, ...f.firings], notes: t.notes, decisions: f.decisions };
}

/** Adds the proactive buckets that start when an automation is enabled (no after, no for_each). */
export function armOps(plan: AutomationPlan): LeafPlan[] {
  return plan.leaves.filter((l) => l.params.posture === 'Proactive' && !l.params.hasAfter && !l.params.hasForEach);
}

/** Opens the enable-time window of an armable leaf unless a live one exists (stale = a full window behind). */
export function armState(leaf: LeafPlan, prev: BucketState | undefined, now: number): BucketState | null {
  if (prev && prev.active && prev.end !== null && prev.end + leaf.params.withinMs >= now) return null;
  const s = prev ? { ...prev } : emptyBucket({});
  s.active = true;
  s.start = now;
  s.end = now + leaf.params.withinMs;
  s.count = 0;
  s.last_event = null;
  return s;
}

export class Evaluator {
  constructor(private readonly store: StateStore, private readonly maxAttempts = 25) {}

  /**
   * Computes and commits one batch; returns what to dispatch. `batch.messages` are the stream sequences
   * of the batch; with `redelivered`, messages another commit already applied are left out.
   */
  async run(ops: Op[], now: number, batch: { messages?: number[]; redelivered?: boolean; notes?: boolean } = {}): Promise<Computed> {
    if (ops.length === 0) return { writes: [], timers: [], firings: [], notes: [], decisions: [] };
    let keys = keysOf(ops);
    const messages = batch.messages ?? [];
    for (let attempt = 1; ; attempt++) {
      const [loaded, applied] = await Promise.all([
        keys.length > 0 ? this.store.load(keys) : new Map<string, Versioned>(),
        messages.length > 0 && (batch.redelivered || attempt > 1) ? this.store.applied(messages) : new Set<number>(),
      ]);
      const todo = applied.size > 0 ? ops.filter((op) => op.kind !== 'event' || op.msg === undefined || !applied.has(op.msg)) : ops;
      const { gates, flowTicks, ...triggers } = computeTriggers(todo, loaded, now, { notes: batch.notes });
      let flowLoaded = loaded;
      if (gates.length > 0 || flowTicks.length > 0) {
        const loadedKeys = new Set(keys);
        // Flow keys are known once the firings are: load those not loaded yet (keysOf guessed some).
        const need = [...new Set([...gates.map(gateStateKey), ...flowTicks.map((t) => t.key)])].filter((k) => !loadedKeys.has(k));
        if (need.length > 0) flowLoaded = new Map([...loaded, ...(await this.store.load(need))]);
      }
      const result = mergeFlow(triggers, computeFlow(gates, flowTicks, flowLoaded, now, { notes: batch.notes }));
      const stateful = result.writes.some((w) => w.value !== undefined);
      if (!stateful && result.timers.length === 0) return { ...result, pending: false };
      const ok = await this.store.commit({
        writes: result.writes,
        timers: result.timers,
        pending: stateful ? result.firings : [],
        messages: stateful ? messages.filter((m) => !applied.has(m)) : [],
      });
      if (ok) return { ...result, pending: stateful && result.firings.length > 0 };
      // A state read that was not loaded (a flow key only known once a firing exists) is loaded next time.
      if (result.writes.some((w) => !loaded.has(w.key))) keys = [...new Set([...keys, ...result.writes.map((w) => w.key)])];
      if (attempt >= this.maxAttempts) throw new Error(`trigger state stayed contended after ${attempt} attempts`);
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
  }

  /** Arms enable-time proactive windows of a plan (idempotent across replicas through versions). */
  async arm(plan: AutomationPlan, now: number): Promise<void> {
    const leaves = armOps(plan);
    if (leaves.length === 0) return;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const keys = leaves.map((l) => bucketStateKey(plan, l, ''));
      const loaded = await this.store.load(keys);
      const writes: Commit['writes'] = [];
      const timers: Commit['timers'] = [];
      leaves.forEach((leaf, i) => {
        const prev = loaded.get(keys[i]);
        const next = armState(leaf, prev?.value as BucketState | undefined, now);
        if (next) {
          writes.push({ key: keys[i], version: prev?.version ?? 0, value: next, ttlMs: 2 * leaf.params.withinMs });
          timers.push({ key: keys[i], at: next.end });
        } else {
          const s = prev?.value as BucketState;
          timers.push({ key: keys[i], at: s.end });
        }
      });
      if (await this.store.commit({ writes, timers, pending: [] })) return;
    }
  }
}
