import type { Logger } from '../../core/log.ts';
import type { Pool } from '../../infra/db.ts';
import { metricFiring, metricInside, metricStateKey, metricStep, type AutomationPlan, type Firing, type MetricMeasure, type MetricState, type StateStore } from '../../modules/automations/index.ts';
import { flowRunMeasure } from '../../modules/runs/index.ts';
import { deliveryFailureRate } from '../../modules/webhooks/index.ts';
import type { MetricTrigger } from '../../schemas/automation.ts';

/** Metric trigger state outlives its last write by at least this long (it is rewritten every pass). */
const STATE_TTL_MS = 7 * 24 * 3600 * 1000;

/** Reads the measure a metric trigger watches, now. */
export async function readMetric(pg: Pool, t: MetricTrigger, now: Date): Promise<MetricMeasure> {
  if (t.metric === 'webhook-failure-rate') return deliveryFailureRate(pg, { automation: t.automation, rangeSeconds: t.range }, now);
  return flowRunMeasure(pg, { metric: t.metric, deployment: t.deployment, flow: t.flow, work_pool: t.work_pool, automation: t.automation, rangeSeconds: t.range, percentile: t.percentile, states: t.states }, now);
}

/**
 * Evaluates the enabled metric triggers every few seconds (issue 15): reads each measure, and commits the
 * step (entering or leaving the condition) with the state store's version check and the firing as pending,
 * so with several replicas exactly one commits each transition, and a replica dying after its commit leaves
 * the firing to the pending sweep. The firing then goes through the same dispatch as every other.
 */
export class MetricMonitor {
  constructor(
    private readonly deps: {
      pg: Pool;
      store: StateStore;
      log: Logger;
      plans: () => Iterable<AutomationPlan>;
      dispatch: (firings: Firing[]) => Promise<void>;
    },
  ) {}

  async tick(now = Date.now()): Promise<Firing[]> {
    const fired: Firing[] = [];
    for (const plan of this.deps.plans()) {
      const t = plan.automation.trigger;
      if (t.type !== 'metric') continue;
      try {
        const f = await this.step(plan, t, now);
        if (f) fired.push(f);
      } catch (err) {
        this.deps.log.warn({ err, automation_id: plan.automation.id }, 'metric trigger evaluation failed');
      }
    }
    if (fired.length) await this.deps.dispatch(fired);
    return fired;
  }

  private async step(plan: AutomationPlan, t: MetricTrigger, now: number): Promise<Firing | null> {
    const key = metricStateKey(plan.automation.id, plan.hash);
    const measure = await readMetric(this.deps.pg, t, new Date(now));
    const loaded = (await this.deps.store.load([key])).get(key);
    const prev = (loaded?.value as MetricState | undefined) ?? null;
    const { next, fire } = metricStep(prev, metricInside(t, measure), measure.value, now);
    // Between transitions nothing is written: the state changes only on entering or leaving.
    if (!fire) return null;
    const firing = metricFiring({ automationId: plan.automation.id, hash: plan.hash }, t, fire, fire === 'triggered' ? next.since : (prev?.since ?? now), measure, now);
    const ok = await this.deps.store.commit({ writes: [{ key, version: loaded?.version ?? 0, value: next, ttlMs: STATE_TTL_MS }], timers: [], pending: [firing] });
    return ok ? firing : null;
  }
}
