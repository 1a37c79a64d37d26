import type { SendLog } from './e2e-generator.ts';
import type { PhaseSpec } from './e2e-phase.ts';
import type { Arrivals } from './e2e-receiver.ts';
import { qualifies } from './e2e-scenario.ts';
import { percentile } from './report.ts';

/** The phase's figures from what the generator sent and the receiver got. Pure. */
export function summarise(spec: PhaseSpec, log: SendLog, arrivals: Arrivals, first: number, window: { w0: number; w1: number }) {
  const { w0, w1 } = window;
  const seconds = (w1 - w0) / 1000;
  const arrivedAt = new Map<number, number>();
  arrivals.n.forEach((n, i) => arrivedAt.set(n, arrivals.at[i]));
  const latencies: number[] = [];
  const lags: number[] = [];
  const non_202: Record<string, number> = {};
  let accepted = 0;
  let acceptedQualifying = 0;
  let lost = 0;
  for (let i = 0; i < log.status.length; i++) {
    const n = first + i;
    const status = log.status[i];
    const measured = log.scheduled[i] >= w0 && log.scheduled[i] < w1;
    if (log.answered[i] >= w0 && log.answered[i] < w1 && status === 202) accepted += 1;
    if (measured) lags.push(log.started[i] - log.scheduled[i]);
    if (status !== 202 && status !== 0) non_202[String(status)] = (non_202[String(status)] ?? 0) + 1;
    if (status !== 202 || !qualifies(n)) continue;
    if (measured) acceptedQualifying += 1;
    const at = arrivedAt.get(n);
    if (at === undefined) lost += 1;
    else if (measured) latencies.push(at - log.scheduled[i]);
  }
  for (const [code, count] of Object.entries(log.errors)) non_202[code] = count;
  const delivered = arrivals.at.filter((at) => at >= w0 && at < w1).length;
  latencies.sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  const needed = spec.mode === 'rate' ? spec.rate / 2 : acceptedQualifying / seconds;
  const growth = backlogGrowth(log, arrivedAt, first, w0 + (w1 - w0) / 2, w1);
  const webhooks = delivered / seconds;
  const round1 = (x: number) => Math.round(x * 10) / 10;
  return {
    phase: spec.label,
    accepted_per_s: Math.round(accepted / seconds),
    webhooks_per_s: Math.round(webhooks),
    needed_per_s: Math.round(needed),
    // Within 5 % of the pace, with no more than 5 % of it piling up per second.
    kept_up: webhooks >= 0.95 * needed && growth <= 0.05 * needed,
    backlog_growth_per_s: Math.round(growth),
    p50_ms: round1(percentile(latencies, 50)),
    p95_ms: round1(percentile(latencies, 95)),
    p99_ms: round1(percentile(latencies, 99)),
    max_ms: round1(latencies[latencies.length - 1] ?? NaN),
    lost,
    duplicated: arrivals.duplicates,
    non_202,
    generator_lag_p99_ms: round1(percentile(lags, 99)),
  };
}

/** Outstanding qualifying events (due, not delivered) at `b` minus at `a`, per second. */
function backlogGrowth(log: SendLog, arrivedAt: Map<number, number>, first: number, a: number, b: number): number {
  const outstanding = (t: number) => {
    let n = 0;
    for (let i = 0; i < log.status.length; i++) {
      if (!qualifies(first + i) || log.status[i] !== 202 || log.scheduled[i] >= t) continue;
      const at = arrivedAt.get(first + i);
      if (at === undefined || at >= t) n += 1;
    }
    return n;
  };
  return (outstanding(b) - outstanding(a)) / ((b - a) / 1000);
}
