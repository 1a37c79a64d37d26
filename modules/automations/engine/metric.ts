import { deterministicUuid } from '../../../core/ids.ts';
import { stateKeys } from '../../../core/names.ts';
import type { MetricTrigger } from '../../../schemas/automation.ts';
import { firingKey, type Firing } from './firing.ts';

/**
 * Metric triggers (issue 15), pure: whether a measure is inside the trigger's condition, and the step from
 * the remembered state to the next (fire once on entering, resolve once on leaving, like a proactive
 * trigger). The service reads the measures and commits the step with the state store's version check, so
 * of several replicas exactly one commits each transition.
 */

export interface MetricMeasure {
  value: number | null;
  samples: number;
}

export interface MetricState {
  active: boolean;
  /** When the current episode (inside or outside) began (ms). */
  since: number;
  value: number | null;
}

export function metricInside(t: MetricTrigger, m: MetricMeasure): boolean {
  if (m.value === null) return false;
  // A count is meaningful from zero; rates and percentiles need enough runs or deliveries behind them.
  if (t.metric !== 'flow-run-count' && m.samples < t.min_samples) return false;
  switch (t.operator) {
    case '<':
      return m.value < t.threshold;
    case '<=':
      return m.value <= t.threshold;
    case '>':
      return m.value > t.threshold;
    case '>=':
      return m.value >= t.threshold;
  }
}

/** The next state, and which firing (if any) the step makes. No previous state counts as outside. */
export function metricStep(prev: MetricState | null, inside: boolean, value: number | null, now: number): { next: MetricState; fire: 'triggered' | 'resolved' | null } {
  const wasInside = prev?.active ?? false;
  if (inside === wasInside) return { next: { active: wasInside, since: prev?.since ?? now, value }, fire: null };
  return { next: { active: inside, since: now, value }, fire: inside ? 'triggered' : 'resolved' };
}

export function metricStateKey(automationId: string, hash: string): string {
  return stateKeys.metric(automationId, hash);
}

/** The firing of one transition: its key names the automation, the trigger, the episode start and the kind. */
export function metricFiring(a: { automationId: string; hash: string }, t: MetricTrigger, kind: 'triggered' | 'resolved', episodeStart: number, measure: MetricMeasure, now: number): Firing {
  const key = firingKey(['metric', a.automationId, a.hash, String(episodeStart), kind]);
  return {
    id: deterministicUuid(key),
    key,
    automation_id: a.automationId,
    state: kind,
    trigger_path: 't',
    bucket_key: '',
    triggering_labels: { 'reflex.metric': t.metric, 'reflex.metric.value': measure.value === null ? '' : String(measure.value), 'reflex.metric.samples': String(measure.samples) },
    triggering_event: null,
    count: measure.samples,
    window_start: new Date(now - t.range * 1000).toISOString(),
    window_end: new Date(now).toISOString(),
    fired_at: new Date(now).toISOString(),
  };
}
