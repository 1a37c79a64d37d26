import type { DeploymentName } from './e2e-deployments.ts';
import { HOPS } from './e2e-hops.ts';
import type { PhaseResult } from './e2e-phase.ts';
import type { BenchResult, BenchRow, BenchTable } from './report.ts';

/** A deployment's phases, each with the baseline's run just before it. */
export interface DeploymentRun {
  deployment: DeploymentName;
  phases: { reflex?: PhaseResult; baseline: PhaseResult }[];
}

/** The outcome events the engine publishes onto the stream (on its own subject tree, `<ns>.engine.`). */
const OUTCOME_PREFIX = 'reflex.';
/** The probe's pseudo-subject: messages the automations consumers were handed (not a stream subject). */
export const AUTOMATIONS_READS = '(delivered to automations)';

const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? Math.round((a / b) * 100) / 100 : NaN);
const statuses = (r: PhaseResult) => Object.entries(r.non_202).map(([s, n]) => `${s}:${n}`).join(' ') || '-';

function phaseRow(deployment: string, r: PhaseResult): (string | number)[] {
  return [
    deployment, r.phase, r.accepted_per_s, r.webhooks_per_s, r.needed_per_s, r.kept_up ? 'yes' : 'NO', r.backlog_growth_per_s,
    r.p50_ms, r.p95_ms, r.p99_ms, r.max_ms, r.lost, r.duplicated, `${r.drain} ${r.drain_s}s`, statuses(r), r.generator_lag_p99_ms,
  ];
}

/** Tables (phases, ratios, CPU, stream composition) and flat figures for --json. */
export function buildReport(runs: DeploymentRun[], extra: BenchTable[], notes: Record<string, unknown>): BenchResult {
  const rows: BenchRow[] = [];
  const phases: BenchTable = {
    title: 'Phases (latency: POST due -> receiver got the webhook, ms; rates per s; baseline measured just before each Reflex phase)',
    columns: ['deployment', 'phase', 'accepted/s', 'webhooks/s', 'needed/s', 'kept up', 'backlog +/s', 'p50', 'p95', 'p99', 'max', 'lost', 'dup', 'drain', 'non-202', 'gen lag p99'],
    rows: [],
  };
  const ratios: BenchTable = { title: 'Reflex / baseline (same-time baseline)', columns: ['deployment', 'phase', 'p99 ratio', 'webhooks/s ratio', 'accepted/s ratio'], rows: [] };
  const cpuRows: { label: string; phase: string; cpu: Record<string, number>; perEvent: Record<string, number>; machine: number }[] = [];
  const stream: BenchTable = {
    title: 'Events stream during each phase (the recorder reads all of it; automations reads: messages handed to the automations consumers)',
    columns: ['deployment', 'phase', 'messages', 'per accepted event', 'outcome events %', 'automations reads', 'reads per accepted event', 'by event name'],
    rows: [],
  };
  const backlog: BenchTable = {
    title: 'Backlog when the measured window ended (the hop whose backlog grows is the one behind)',
    columns: ['deployment', 'phase', 'ingest in flight', 'recorder pending', 'automations pending', 'webhook jobs waiting', 'delayed', 'active', 'outstanding webhooks'],
    rows: [],
  };
  const hops: BenchTable = { title: 'Latency by hop, p50 / p99 ms (bench/e2e-hops.ts says where each hop starts and ends)', columns: ['deployment', 'phase', ...HOPS], rows: [] };
  const backlogRow = (d: string, r: PhaseResult) => {
    const b = r.backlog;
    backlog.rows.push([d, r.phase, b.ingest ?? NaN, b.recorder ?? NaN, b.automations ?? NaN, b.webhook_waiting ?? NaN, b.webhook_delayed ?? NaN, b.webhook_active ?? NaN, b.outstanding ?? NaN]);
  };
  for (const run of runs) {
    for (const { reflex, baseline } of run.phases) {
      backlogRow(`baseline (${run.deployment})`, baseline);
      phases.rows.push(phaseRow(`baseline (${run.deployment})`, baseline));
      cpuRows.push({ label: `baseline (${run.deployment})`, phase: baseline.phase, cpu: baseline.cpu_pct, perEvent: baseline.cpu_us_per_event, machine: baseline.machine_busy_pct });
      const key = (d: string, m: string) => `${d} ${baseline.phase} ${m}`;
      rows.push({ metric: key(`baseline(${run.deployment})`, 'webhooks/s'), value: baseline.webhooks_per_s, unit: '/s' });
      rows.push({ metric: key(`baseline(${run.deployment})`, 'p99'), value: baseline.p99_ms, unit: 'ms' });
      if (!reflex) continue;
      phases.rows.push(phaseRow(run.deployment, reflex));
      backlogRow(run.deployment, reflex);
      const h = reflex.hops;
      if (h) hops.rows.push([run.deployment, reflex.phase, ...HOPS.map((hop) => `${h[hop].p50} / ${h[hop].p99}`)]);
      cpuRows.push({ label: run.deployment, phase: reflex.phase, cpu: reflex.cpu_pct, perEvent: reflex.cpu_us_per_event, machine: reflex.machine_busy_pct });
      const p99 = ratio(reflex.p99_ms, baseline.p99_ms);
      const wh = ratio(reflex.webhooks_per_s, baseline.webhooks_per_s);
      ratios.rows.push([run.deployment, reflex.phase, p99, wh, ratio(reflex.accepted_per_s, baseline.accepted_per_s)]);
      rows.push({ metric: key(run.deployment, 'webhooks/s'), value: reflex.webhooks_per_s, unit: '/s', target: `>= ${Math.round(reflex.needed_per_s * 0.95)}` });
      rows.push({ metric: key(run.deployment, 'p99'), value: reflex.p99_ms, unit: 'ms' });
      rows.push({ metric: key(run.deployment, 'p99 / baseline'), value: p99, unit: 'x' });
      rows.push({ metric: key(run.deployment, 'webhooks/s / baseline'), value: wh, unit: 'x' });
      rows.push({ metric: key(run.deployment, 'lost'), value: reflex.lost, unit: 'events', target: '0' });
      if (reflex.stream) {
        const subjects = Object.entries(reflex.stream).filter(([e]) => e !== AUTOMATIONS_READS);
        const reads = reflex.stream[AUTOMATIONS_READS] ?? NaN;
        const total = subjects.reduce((a, [, n]) => a + n, 0);
        const outcome = subjects.filter(([e]) => e.startsWith(OUTCOME_PREFIX)).reduce((a, [, n]) => a + n, 0);
        const user = total - outcome;
        const by = subjects.sort((a, b) => b[1] - a[1]).map(([e, n]) => `${e} ${n}`).join(', ');
        stream.rows.push([run.deployment, reflex.phase, total, ratio(total, user), total > 0 ? Math.round((outcome / total) * 1000) / 10 : NaN, reads, ratio(reads, user), by]);
      }
    }
  }
  // One column per process label seen, the engine's first; a process absent from a row prints '-'.
  const order = ['reflex (all services)', 'api', 'recorder', 'automations', 'webhooks', 'scheduler + outbox', 'baseline flow', 'postgres', 'redis', 'nats', 'generator', 'receiver', 'bench process'];
  const labels = [...new Set(cpuRows.flatMap((r) => Object.keys(r.cpu)))].sort((a, b) => rank(order, a) - rank(order, b));
  const cpu: BenchTable = {
    title: 'CPU during the measured window, % of one core (postgres, redis, nats: every process of the machine, other users included)',
    columns: ['deployment', 'phase', 'machine busy % of all cores', ...labels],
    rows: cpuRows.map((r) => [r.label, r.phase, r.machine, ...labels.map((l) => r.cpu[l] ?? NaN)]),
  };
  const perEvent: BenchTable = {
    title: 'CPU per accepted event, phase start to drain end, µs (what an event costs, whatever the pace)',
    columns: ['deployment', 'phase', ...labels],
    rows: cpuRows.map((r) => [r.label, r.phase, ...labels.map((l) => r.perEvent[l] ?? NaN)]),
  };
  return { name: 'e2e', rows, tables: [phases, ratios, hops, backlog, cpu, perEvent, stream, ...extra], notes };
}

function rank(order: string[], label: string): number {
  const i = order.indexOf(label);
  return i < 0 ? order.length : i;
}
