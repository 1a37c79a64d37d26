import type { Pool } from '../../infra/db.ts';
import { metricInside, metricStep, type MetricMeasure, type MetricState } from '../../modules/automations/index.ts';
import { flowRunMeasure } from '../../modules/runs/index.ts';
import { deliveryFailureRate } from '../../modules/webhooks/index.ts';
import type { MetricTrigger } from '../../schemas/automation.ts';

/**
 * Metric triggers in the dry run and the backtest (issue 15). The dry run reads the measure now; the
 * backtest reads it at evenly spaced instants of the range (the measure over the `range` ending at each
 * instant) and steps through them as the live monitor would, so it shows when the trigger would have
 * fired and resolved. `flow-run-count` reads runs' current states, so its past values are approximate.
 */

/** Instants a backtest samples at most. */
export const MAX_METRIC_SAMPLES = 60;

export interface MetricPreview {
  samples: Array<{ at: string; value: number | null; samples: number; inside: boolean }>;
  transitions: Array<{ at: string; state: 'triggered' | 'resolved'; value: number | null }>;
  note?: string;
}

async function readMetric(pg: Pool, t: MetricTrigger, at: Date): Promise<MetricMeasure> {
  if (t.metric === 'webhook-failure-rate') return deliveryFailureRate(pg, { automation: t.automation, rangeSeconds: t.range }, at);
  return flowRunMeasure(pg, { metric: t.metric, deployment: t.deployment, flow: t.flow, work_pool: t.work_pool, automation: t.automation, rangeSeconds: t.range, percentile: t.percentile, states: t.states }, at);
}

export async function previewMetric(pg: Pool, t: MetricTrigger, range: { from: number; to: number } | null): Promise<MetricPreview> {
  const instants = range === null ? [Date.now()] : spaced(range.from, range.to);
  const out: MetricPreview = { samples: [], transitions: [] };
  let state: MetricState | null = null;
  for (const at of instants) {
    const m = await readMetric(pg, t, new Date(at));
    const inside = metricInside(t, m);
    out.samples.push({ at: new Date(at).toISOString(), value: m.value, samples: m.samples, inside });
    const { next, fire } = metricStep(state, inside, m.value, at);
    if (fire) out.transitions.push({ at: new Date(at).toISOString(), state: fire, value: m.value });
    state = next;
  }
  if (t.metric === 'flow-run-count' && range !== null) out.note = 'flow-run-count reads the current state of runs: past values are approximate';
  return out;
}

function spaced(from: number, to: number): number[] {
  const n = Math.max(1, Math.min(MAX_METRIC_SAMPLES, Math.floor((to - from) / 1000)));
  return Array.from({ length: n }, (_, i) => Math.round(from + ((to - from) * (i + 1)) / n));
}
