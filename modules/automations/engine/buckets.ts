import type { ReflexEvent } from '../../../schemas/event.ts';

/**
 * The bucket state machine of one event trigger, for one for_each key: pure functions of (state, input,
 * clock). It follows Prefect's model (docs/automations.md "Trigger semantics"): tumbling windows in event
 * time, a 15-minute look-back for the first window, cooldown until the window end after a reactive
 * firing, and deletion (disarming) after a firing when the trigger has `after`.
 */

/** The first window of a trigger without `after` reaches back this far, so slightly late events count. */
export const FIRST_WINDOW_LOOKBACK_MS = 15 * 60 * 1000;
/** Event ids remembered per bucket to drop redelivered or re-posted events. */
export const SEEN_IDS = 8;

export interface BucketParams {
  posture: 'Reactive' | 'Proactive';
  threshold: number;
  /** Window length in ms; 0 = no window. */
  withinMs: number;
  hasAfter: boolean;
  /** The trigger has for_each paths (affects repetition of proactive firings without `after`). */
  hasForEach: boolean;
}

export interface BucketState {
  /** A window is open (armed). */
  active: boolean;
  start: number;
  /** Exclusive end in ms; null = no end (within 0). */
  end: number | null;
  count: number;
  last_event: ReflexEvent | null;
  /** Firings so far; part of the firing key so two windows with equal starts never collide. */
  seq: number;
  seen: string[];
  /** A proactive firing waiting to be resolved by the next expected event. */
  fired: { key: string; at: number } | null;
  labels: Record<string, string>;
}

export function emptyBucket(labels: Record<string, string>): BucketState {
  return { active: false, start: 0, end: null, count: 0, last_event: null, seq: 0, seen: [], fired: null, labels };
}

export interface BucketFiring {
  kind: 'triggered' | 'resolved';
  /** Unique within the bucket: window start + sequence (or the resolved firing's key). */
  discriminator: string;
  event: ReflexEvent | null;
  count: number;
  window: { start: number; end: number | null };
  /** Event time of the firing (the event's occurred, or the window end for a proactive firing). */
  at: number;
}

export interface StepResult {
  state: BucketState;
  firings: BucketFiring[];
  /** Why nothing (or something) happened, for dry runs. */
  note: string;
}

const meets = (p: BucketParams, count: number) => (p.posture === 'Reactive' ? count >= p.threshold : count < p.threshold);

function open(p: BucketParams, s: BucketState, start: number, count: number, last: ReflexEvent | null): void {
  s.active = true;
  s.start = start;
  s.end = p.withinMs > 0 ? start + p.withinMs : null;
  s.count = count;
  // Only proactive firings (at a deadline, without an event) need the last event; not storing it for
  // reactive buckets keeps their state small.
  s.last_event = p.posture === 'Proactive' ? last : null;
}

/** Applies one event (already known to be covered by the trigger) to the bucket. */
export function applyEvent(p: BucketParams, prev: BucketState, event: ReflexEvent, arms: boolean, counts: boolean, occurred?: number): StepResult {
  if (prev.seen.includes(event.id)) return { state: prev, firings: [], note: `duplicate event ${event.id} ignored` };
  const seen = prev.seen.length >= SEEN_IDS ? prev.seen.slice(1 - SEEN_IDS) : prev.seen.slice();
  seen.push(event.id);
  const s: BucketState = { ...prev, seen };
  const now = occurred ?? Date.parse(event.occurred);
  const firings: BucketFiring[] = [];

  // A proactive firing is resolved by the next expected event after it.
  if (counts && s.fired && now >= s.fired.at) {
    firings.push({ kind: 'resolved', discriminator: `${s.fired.key}/resolved`, event, count: 0, window: { start: s.start, end: s.end }, at: now });
    s.fired = null;
  }

  if (arms && p.hasAfter) {
    if (!s.active) open(p, s, now, counts ? -1 : 0, event);
    else if (p.posture === 'Proactive') s.last_event = event;
  } else if (!p.hasAfter && counts && !s.active) {
    open(p, s, p.posture === 'Reactive' && p.withinMs > 0 ? now - FIRST_WINDOW_LOOKBACK_MS : now, 0, event);
    // The look-back start only widens the first window; its end is still `within` after this event.
    if (p.withinMs > 0) s.end = now + p.withinMs;
  }
  if (!counts) return { state: s, firings, note: s.active ? 'armed' : 'not counted' };
  if (!s.active) return { state: s, firings, note: 'not armed: no after event seen yet' };
  const r = evaluate(p, s, now, event, arms);
  return { state: r.state, firings: [...firings, ...r.firings], note: r.note };
}

/** The timer path: a proactive window whose end has passed (wall clock `now`). */
export function applyTick(p: BucketParams, prev: BucketState, now: number): StepResult {
  if (!prev.active || prev.end === null || now < prev.end) return { state: prev, firings: [], note: 'window still open' };
  return evaluate(p, { ...prev }, now, null, false);
}

/** Prefect's evaluate step, with `now` = the event's occurred (or the clock for timers). Mutates s. */
function evaluate(p: BucketParams, s: BucketState, now: number, event: ReflexEvent | null, arms: boolean): StepResult {
  if (now < s.start) return { state: s, firings: [], note: 'late event (occurred before the window start, or during the cooldown after a firing) ignored' };
  if (event && (s.end === null || now < s.end)) {
    s.count += 1;
    if (p.posture === 'Proactive') s.last_event = event;
  }
  const windowEnded = s.end !== null && s.end <= now;
  const mayFire = p.posture === 'Reactive' || windowEnded;
  if (mayFire && meets(p, s.count)) {
    const firing: BucketFiring = {
      kind: 'triggered',
      discriminator: `${s.start}-${s.seq}`,
      event: event ?? s.last_event,
      count: s.count,
      window: { start: s.start, end: s.end },
      at: p.posture === 'Proactive' && s.end !== null ? s.end : now,
    };
    s.seq += 1;
    if (p.posture === 'Proactive') s.fired = { key: firing.discriminator, at: firing.at };
    const next = nextWindow(p, s, now, event, true);
    return { state: next.state, firings: [firing, ...next.firings], note: `fired with count ${firing.count}` };
  }
  if (!windowEnded) {
    // Heartbeat pattern: an event in both after and expect that satisfies a proactive window restarts it.
    if (p.posture === 'Proactive' && p.hasAfter && arms && event && s.count >= p.threshold) open(p, s, now, 0, event);
    const need = p.posture === 'Reactive' ? `needs ${p.threshold}` : `fires at the window end unless ${p.threshold} arrive`;
    return { state: s, firings: [], note: `count ${s.count}, ${need}` };
  }
  return nextWindow(p, s, now, event, false);
}

/** What follows a firing or a window that ended: disarm, keep counting, or open the next window. */
function nextWindow(p: BucketParams, s: BucketState, now: number, event: ReflexEvent | null, fired: boolean): StepResult {
  const note = fired ? 'fired' : `window ended with count ${s.count}; next window`;
  if (p.hasAfter) {
    s.active = false;
    s.count = 0;
    return { state: s, firings: [], note: fired ? 'fired; disarmed until the next after event' : 'window ended; disarmed' };
  }
  if (s.end === null) {
    // within 0 and threshold N: every N-th matching event fires.
    s.count = 0;
    return { state: s, firings: [], note };
  }
  if (p.posture === 'Proactive' && fired && p.hasForEach) {
    // One firing per silence for a keyed bucket; the next expected event opens a new window.
    s.active = false;
    s.count = 0;
    return { state: s, firings: [], note: 'fired; the next expected event opens a new window' };
  }
  const oldEnd = s.end;
  // Proactive windows follow each other without a gap (Prefect leaves a blind gap of up to one window),
  // unless the service was away for more than a window: then the next one starts now.
  s.start = p.posture === 'Proactive' ? (now - oldEnd < p.withinMs ? oldEnd : now) : Math.max(oldEnd, now);
  s.end = s.start + p.withinMs;
  s.count = 0;
  if (event && now >= s.start && now < s.end) {
    // The event fell after the old window: it is the first of the new one (and may fire at once).
    const r = evaluate(p, s, now, event, false);
    return { state: r.state, firings: r.firings, note: `${note}; ${r.note}` };
  }
  return { state: s, firings: [], note };
}
