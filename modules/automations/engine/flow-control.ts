import jsonLogic from 'json-logic-js';
import type { Template } from 'liquidjs';
import { deterministicUuid } from '../../../core/ids.ts';
import { stateKeys } from '../../../core/names.ts';
import { createSandboxedLiquid } from '../../../core/liquid.ts';
import { AUTOMATION_LIMITS, jsonLogicIssues, type FlowControl } from '../../../schemas/automation.ts';
import type { ReflexEvent } from '../../../schemas/event.ts';
import type { FlowControlInfo } from '../../../schemas/jobs.ts';
import { firingKey, shortHash, type Firing } from './firing.ts';

/**
 * Flow control on what an automation's actions start: debounce, throttle, rate limit and batch. Pure:
 * a firing (or a due timer) and the key's state in, the new state, the firings to dispatch now and the
 * next deadline out. The evaluator keeps the state beside the trigger state (same optimistic commit, same
 * timer set), so flow control is exactly once across replicas and survives a restart.
 *
 * Times are event time (the triggering event's `occurred`), like trigger windows; `now` decides only
 * whether a deadline has passed. Boundaries are half-open: an event exactly `period` after the last one
 * of a debounce window starts a new window; an event exactly `timeout` after a batch's first starts a new
 * batch; a rate-limit slot frees exactly `period` after it was taken.
 */

export type FlowMode = FlowControlInfo['mode'];

export interface FlowPlan {
  mode: FlowMode;
  config: FlowControl;
  /** The rendered key of a triggering event (empty: one key for the automation). */
  keyOf(event: ReflexEvent | null): string;
  /** Longest time (ms) a state of this plan must outlive its last write. */
  horizonMs: number;
}

interface Held {
  firing: Firing;
  at: number;
  /** Serialised size of the firing, counted against MAX_HELD_BYTES. */
  bytes?: number;
}

/**
 * Most a key may hold (events of a window or batch, throttled firings waiting), serialised: the state is
 * one Redis value rewritten on every event, and 1,000 events of 256 KB would be 256 MB. A window or
 * batch that would pass it is released first; a throttle queue refuses the excess (recorded).
 */
export const MAX_HELD_BYTES = 4 * 1024 * 1024;
const sizeOf = (f: Firing) => JSON.stringify(f).length;
const heldBytes = (held: { bytes?: number }[]) => held.reduce((n, h) => n + (h.bytes ?? 0), 0);

export type FlowState =
  | { kind: 'debounce'; open: boolean; first: number; last: number; held: Held[]; suppressed: number; count: number }
  | { kind: 'batch'; open: boolean; first: number; held: Held[] }
  | { kind: 'throttle'; slots: number[]; queue: { slot: number; at: number; firing: Firing; bytes?: number }[] }
  | { kind: 'rate_limit'; accepted: number[] };

/** What flow control decided for one firing (the dry run and backtest list these). */
export interface FlowDecision {
  event_id: string | null;
  key: string;
  mode: FlowMode;
  decision: 'released' | 'debounced' | 'suppressed' | 'batched' | 'throttled' | 'dropped';
  reason: string;
  /** When the action is due (throttled, debounced, batched), ISO. */
  due: string | null;
}

export interface FlowResult {
  state: FlowState;
  released: Firing[];
  decisions: FlowDecision[];
  /** Next deadline (ms) of this key, or null for none. */
  timer: number | null;
  ttlMs: number;
}

const liquid = createSandboxedLiquid();

/** The automation of a flow-control state key (`f|...`, also its timer member), or null. */
export const parseFlowStateKey = stateKeys.parseFlow;
const MAX_RENDERED_KEY = 256;

function modeOf(fc: FlowControl): FlowMode {
  if (fc.debounce) return 'debounce';
  if (fc.throttle) return 'throttle';
  if (fc.rate_limit) return 'rate_limit';
  return 'batch';
}

function keyExpression(fc: FlowControl): string | Record<string, unknown> | undefined {
  return (fc.debounce ?? fc.throttle ?? fc.rate_limit ?? fc.batch)?.key;
}

/** Why a key expression is refused at save time (a template that does not parse, tags, bad json-logic), or null. */
export function flowKeyIssue(key: unknown): string | null {
  if (typeof key === 'string') {
    if (key.includes('{%')) return 'a key template may only output values ({{ ... }}), not use {% %} tags';
    if (!key.includes('{{')) return null;
    try {
      liquid.parse(key);
      return null;
    } catch (err) {
      return `template error: ${(err as Error).message}`;
    }
  }
  const issues = jsonLogicIssues(key);
  return issues.length > 0 ? `json-logic: ${issues[0].message}` : null;
}

function toKeyString(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  // A key is part of a Redis key: bounded, and free of the key grammar's separator.
  return s.length <= MAX_RENDERED_KEY && !s.includes('|') ? s : `#${shortHash(s)}`;
}

export function compileFlowControl(fc: FlowControl | undefined): FlowPlan | null {
  if (!fc) return null;
  const mode = modeOf(fc);
  const expr = keyExpression(fc);
  let keyOf: (event: ReflexEvent | null) => string;
  if (expr === undefined) keyOf = () => '';
  else if (typeof expr === 'string' && !expr.includes('{{')) keyOf = () => toKeyString(expr);
  else if (typeof expr === 'string') {
    const tpl: Template[] = liquid.parse(expr);
    keyOf = (event) => {
      try {
        return toKeyString(liquid.renderSync(tpl, { event }));
      } catch {
        // A key that cannot render falls in one shared key rather than stopping evaluation.
        return '!error';
      }
    };
  } else {
    keyOf = (event) => {
      try {
        return toKeyString(jsonLogic.apply(expr as jsonLogic.RulesLogic, { event }));
      } catch {
        return '!error';
      }
    };
  }
  const s = (n: number | undefined) => (n ?? 0) * 1000;
  const horizonMs = Math.max(s(fc.debounce?.period), s(fc.debounce?.max_delay), s(fc.throttle?.period), s(fc.rate_limit?.period), s(fc.batch?.timeout));
  return { mode, config: fc, keyOf, horizonMs };
}

export function emptyFlowState(mode: FlowMode): FlowState {
  switch (mode) {
    case 'debounce':
      return { kind: 'debounce', open: false, first: 0, last: 0, held: [], suppressed: 0, count: 0 };
    case 'batch':
      return { kind: 'batch', open: false, first: 0, held: [] };
    case 'throttle':
      return { kind: 'throttle', slots: [], queue: [] };
    case 'rate_limit':
      return { kind: 'rate_limit', accepted: [] };
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

function info(mode: FlowMode, key: string, reason: string, due: number | null, delayedMs: number, extra: Partial<FlowControlInfo> = {}): FlowControlInfo {
  return { mode, key, reason, due: due === null ? null : iso(due), delayed_ms: Math.max(0, Math.round(delayedMs)), ...extra };
}

/** One firing for a whole debounce window or batch: every event, in event time order; the last one triggers. */
function windowFiring(mode: FlowMode, key: string, held: Held[], reason: string, due: number, now: number, suppressed?: number): Firing {
  const sorted = [...held].sort((a, b) => a.at - b.at);
  const base = sorted[sorted.length - 1].firing;
  const events = sorted.map((h) => h.firing.triggering_event).filter((e): e is ReflexEvent => e !== null);
  // The first firing of a window is unique (an event is applied once), so it names the window.
  const fkey = firingKey([held[0].firing.key, 'flow', mode]);
  return {
    ...base,
    id: deterministicUuid(fkey),
    key: fkey,
    count: sorted.length,
    window_start: iso(sorted[0].at),
    window_end: iso(sorted[sorted.length - 1].at),
    fired_at: iso(now),
    events,
    flow_control: info(mode, key, reason, due, due - sorted[0].at, { event_ids: events.map((e) => e.id), ...(suppressed !== undefined ? { suppressed } : {}) }),
  };
}

function dropped(firing: Firing, key: string, reason: string, now: number): Firing {
  const fkey = firingKey([firing.key, 'rate-limited']);
  return { ...firing, id: deterministicUuid(fkey), key: fkey, state: 'rate-limited', fired_at: iso(now), flow_control: info('rate_limit', key, reason, null, 0) };
}

const eventId = (f: Firing) => f.triggering_event?.id ?? null;

/** Applies one triggered firing at event time `at` to its key's state. */
export function gateFiring(fp: FlowPlan, key: string, prev: FlowState | undefined, firing: Firing, at: number, now: number): FlowResult {
  const fc = fp.config;
  const released: Firing[] = [];
  const decisions: FlowDecision[] = [];
  const decide = (decision: FlowDecision['decision'], reason: string, due: number | null, f: Firing = firing) =>
    decisions.push({ event_id: eventId(f), key, mode: fp.mode, decision, reason, due: due === null ? null : iso(due) });
  const base = prev && prev.kind === fp.mode ? prev : undefined;

  if (fc.debounce) {
    const d = fc.debounce;
    const period = d.period * 1000;
    const maxDelay = d.max_delay === undefined ? Infinity : d.max_delay * 1000;
    const s = structuredClone(base ?? emptyFlowState('debounce')) as Extract<FlowState, { kind: 'debounce' }>;
    const deadlineOf = () => Math.min(s.last + period, s.first + maxDelay);
    if (s.open && at >= deadlineOf()) closeDebounce(fp, key, s, deadlineOf(), now, released);
    if (!s.open) {
      Object.assign(s, { open: true, first: at, last: at, held: [], suppressed: 0, count: 1 });
      if (d.mode === 'leading') {
        released.push({ ...firing, flow_control: info('debounce', key, 'leading: first event of the window', at, 0) });
        decide('released', 'leading: first event of the window', at);
      } else {
        s.held.push({ firing, at, bytes: sizeOf(firing) });
        decide('debounced', `window opened; waits ${d.period}s of quiet`, deadlineOf());
      }
    } else {
      s.last = Math.max(s.last, at);
      s.count += 1;
      if (d.mode === 'leading') {
        s.suppressed += 1;
        decide('suppressed', 'leading: within the window of an earlier event', deadlineOf());
      } else {
        const bytes = sizeOf(firing);
        if (heldBytes(s.held) + bytes > MAX_HELD_BYTES) {
          // Released early rather than grown past the bound; this event opens the next window.
          released.push(windowFiring('debounce', key, s.held, `size limit (${MAX_HELD_BYTES} bytes held)`, now, now));
          Object.assign(s, { first: at, last: at, held: [], suppressed: 0, count: 1 });
        }
        s.held.push({ firing, at, bytes });
        if (s.held.length >= d.max_events) {
          decide('debounced', `window reached max_events (${d.max_events})`, now);
          released.push(windowFiring('debounce', key, s.held, `max_events (${d.max_events})`, now, now));
          Object.assign(s, { open: false, held: [], suppressed: 0, count: 0 });
        } else {
          const capped = s.first + maxDelay <= s.last + period;
          decide('debounced', capped ? `window extended to max_delay (${d.max_delay}s after its first event)` : `window extended; waits ${d.period}s of quiet`, deadlineOf());
        }
      }
    }
    return { state: s, released, decisions, timer: s.open ? deadlineOf() : null, ttlMs: 2 * fp.horizonMs };
  }

  if (fc.batch) {
    const b = fc.batch;
    const timeout = b.timeout * 1000;
    const s = structuredClone(base ?? emptyFlowState('batch')) as Extract<FlowState, { kind: 'batch' }>;
    if (s.open && at >= s.first + timeout) {
      released.push(windowFiring('batch', key, s.held, `timeout (${b.timeout}s)`, s.first + timeout, now));
      Object.assign(s, { open: false, held: [] });
    }
    const bytes = sizeOf(firing);
    if (s.open && heldBytes(s.held) + bytes > MAX_HELD_BYTES) {
      released.push(windowFiring('batch', key, s.held, `size limit (${MAX_HELD_BYTES} bytes held)`, now, now));
      Object.assign(s, { open: false, held: [] });
    }
    if (!s.open) Object.assign(s, { open: true, first: at, held: [] });
    s.held.push({ firing, at, bytes });
    if (s.held.length >= b.max_size) {
      decide('batched', `batch reached max_size (${b.max_size})`, now);
      released.push(windowFiring('batch', key, s.held, `max_size (${b.max_size})`, now, now));
      Object.assign(s, { open: false, held: [] });
    } else decide('batched', `batch of ${s.held.length}; released at max_size ${b.max_size} or ${b.timeout}s after its first event`, s.first + timeout);
    return { state: s, released, decisions, timer: s.open ? s.first + timeout : null, ttlMs: 2 * fp.horizonMs };
  }

  if (fc.throttle) {
    const t = fc.throttle;
    const period = t.period * 1000;
    const burst = t.burst ?? t.limit;
    const s = structuredClone(base ?? emptyFlowState('throttle')) as Extract<FlowState, { kind: 'throttle' }>;
    const bytes = sizeOf(firing);
    if (s.queue.length >= AUTOMATION_LIMITS.maxThrottleQueue || heldBytes(s.queue) + bytes > MAX_HELD_BYTES) {
      const reason = `throttle queue full (${s.queue.length} waiting)`;
      released.push(dropped(firing, key, reason, now));
      decide('dropped', reason, null);
      return { state: s, released, decisions, timer: s.queue[0]?.slot ?? null, ttlMs: throttleTtl(s, period, now) };
    }
    // The earliest slot that keeps at most `limit` per period and at most `burst` back to back, after
    // every slot already given (in order: a later firing never overtakes an earlier one).
    const n = s.slots.length;
    let slot = Math.max(at, n > 0 ? s.slots[n - 1] : -Infinity);
    if (n >= t.limit) slot = Math.max(slot, s.slots[n - t.limit] + period);
    if (burst < t.limit && n >= burst) slot = Math.max(slot, s.slots[n - burst] + (period * burst) / t.limit);
    s.slots.push(slot);
    if (s.slots.length > t.limit) s.slots.splice(0, s.slots.length - t.limit);
    s.queue.push({ slot, at, firing, bytes });
    decide(slot <= Math.max(at, now) && s.queue.length === 1 ? 'released' : 'throttled', slot <= at ? `within ${t.limit} per ${t.period}s` : `over ${t.limit} per ${t.period}s (burst ${burst}): waits for its slot`, slot);
    releaseDue(fp, key, s, now, released);
    return { state: s, released, decisions, timer: s.queue[0]?.slot ?? null, ttlMs: throttleTtl(s, period, now) };
  }

  const r = fc.rate_limit!;
  const period = r.period * 1000;
  const s = structuredClone(base ?? emptyFlowState('rate_limit')) as Extract<FlowState, { kind: 'rate_limit' }>;
  // Out-of-order events count against every slot within a period either side of them.
  const near = s.accepted.filter((a) => Math.abs(a - at) < period).length;
  if (near < r.limit) {
    s.accepted.push(at);
    s.accepted.sort((a, b) => a - b);
    const newest = s.accepted[s.accepted.length - 1];
    s.accepted = s.accepted.filter((a) => a > newest - period);
    released.push({ ...firing, flow_control: info('rate_limit', key, `within ${r.limit} per ${r.period}s`, at, 0) });
    decide('released', `within ${r.limit} per ${r.period}s (${near + 1} of ${r.limit})`, at);
  } else {
    const reason = `rate limit: ${r.limit} per ${r.period}s reached`;
    released.push(dropped(firing, key, reason, now));
    decide('dropped', reason, null);
  }
  return { state: s, released, decisions, timer: null, ttlMs: 2 * fp.horizonMs };
}

function throttleTtl(s: Extract<FlowState, { kind: 'throttle' }>, period: number, now: number): number {
  const last = s.slots[s.slots.length - 1] ?? now;
  return Math.max(2 * period, last - now + 2 * period);
}

function closeDebounce(fp: FlowPlan, key: string, s: Extract<FlowState, { kind: 'debounce' }>, deadline: number, now: number, released: Firing[]): void {
  const d = fp.config.debounce!;
  if (d.mode === 'trailing' && s.held.length > 0) {
    const reason = d.max_delay !== undefined && deadline === s.first + d.max_delay * 1000 && deadline < s.last + d.period * 1000 ? `max_delay (${d.max_delay}s)` : `quiet period (${d.period}s)`;
    released.push(windowFiring('debounce', key, s.held, reason, deadline, now));
  }
  Object.assign(s, { open: false, held: [], suppressed: 0, count: 0 });
}

function releaseDue(fp: FlowPlan, key: string, s: Extract<FlowState, { kind: 'throttle' }>, now: number, released: Firing[]): void {
  while (s.queue.length > 0 && s.queue[0].slot <= now) {
    const q = s.queue.shift()!;
    const reason = q.slot > q.at ? 'throttled: released at its slot' : 'within limit';
    released.push({ ...q.firing, fired_at: new Date(Math.max(now, Date.parse(q.firing.fired_at))).toISOString(), flow_control: info('throttle', key, reason, q.slot, q.slot - q.at) });
  }
}

/**
 * A due timer of a key: releases what is due by `now`. `fp` is the automation's current flow control;
 * when it changed mode (or was removed), whatever the old state holds is released at once, not lost.
 */
export function tickFlow(fp: FlowPlan | null, key: string, prev: FlowState, now: number): FlowResult {
  const released: Firing[] = [];
  const decisions: FlowDecision[] = [];
  const stale = !fp || fp.mode !== prev.kind;
  const ttlMs = 2 * (fp?.horizonMs ?? 0);
  switch (prev.kind) {
    case 'debounce': {
      const s = structuredClone(prev);
      if (!s.open) return { state: s, released, decisions, timer: null, ttlMs };
      const d = fp?.config.debounce;
      const deadline = d ? Math.min(s.last + d.period * 1000, s.first + (d.max_delay === undefined ? Infinity : d.max_delay * 1000)) : now;
      if (!stale && now < deadline) return { state: s, released, decisions, timer: deadline, ttlMs };
      if (stale) {
        if (s.held.length > 0) released.push(windowFiring('debounce', key, s.held, 'flow control changed', now, now));
        Object.assign(s, { open: false, held: [], suppressed: 0, count: 0 });
      } else closeDebounce(fp!, key, s, deadline, now, released);
      return { state: s, released, decisions, timer: null, ttlMs };
    }
    case 'batch': {
      const s = structuredClone(prev);
      if (!s.open) return { state: s, released, decisions, timer: null, ttlMs };
      const due = fp?.config.batch ? s.first + fp.config.batch.timeout * 1000 : now;
      if (!stale && now < due) return { state: s, released, decisions, timer: due, ttlMs };
      released.push(windowFiring('batch', key, s.held, stale ? 'flow control changed' : `timeout (${fp!.config.batch!.timeout}s)`, due, now));
      Object.assign(s, { open: false, held: [] });
      return { state: s, released, decisions, timer: null, ttlMs };
    }
    case 'throttle': {
      const s = structuredClone(prev);
      if (stale) for (const q of s.queue) q.slot = Math.min(q.slot, now);
      releaseDue(fp ?? { mode: 'throttle', config: {}, keyOf: () => '', horizonMs: 0 }, key, s, now, released);
      return { state: s, released, decisions, timer: s.queue[0]?.slot ?? null, ttlMs: throttleTtl(s, (fp?.config.throttle?.period ?? 0) * 1000, now) };
    }
    case 'rate_limit':
      return { state: prev, released, decisions, timer: null, ttlMs };
  }
}
