import type { BenchChild } from './e2e-child.ts';
import { epochMs } from './e2e-child.ts';
import type { GeneratorPhase, SendLog } from './e2e-generator.ts';
import type { Arrivals } from './e2e-receiver.ts';
import { qualifies } from './e2e-scenario.ts';
import { cpuSnapshot, cpuSpent, machineCpu, type CpuSnapshot } from './cpu.ts';
import { percentile } from './report.ts';

/** One phase: open loop at `rate` events/s, or `inflight` requests outstanding (the max phase). */
export interface PhaseSpec {
  label: string;
  mode: 'rate' | 'inflight';
  rate: number;
  inflight: number;
  /** Sent at the phase's load before the measured window, not measured: the system reaches its pace. */
  warmupSeconds: number;
  seconds: number;
}

export interface PhaseResult {
  phase: string;
  accepted_per_s: number;
  webhooks_per_s: number;
  /** The qualifying rate: half the offered rate (open loop) or half the accepted rate (max phase). */
  needed_per_s: number;
  kept_up: boolean;
  /** Growth of the outstanding qualifying events (sent, not yet delivered) over the window's second half. */
  backlog_growth_per_s: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  /** Acknowledged, qualifying, not delivered once the engine was idle again (or the drain gave up). */
  lost: number;
  duplicated: number;
  /** How the drain ended: everything arrived, the engine went idle without it, or the bound was hit. */
  drain: 'complete' | 'idle' | 'bound';
  drain_s: number;
  non_202: Record<string, number>;
  /** p99 of (request started - request due): near 0 unless the generator itself fell behind. */
  generator_lag_p99_ms: number;
  /** CPU of each process during the measured window, in % of one core. */
  cpu_pct: Record<string, number>;
  /** Whole machine (every core, everyone's processes) busy during the window, % of all cores. */
  machine_busy_pct: number;
  /** Messages the events stream got per subject during the phase (engines only). */
  stream?: Record<string, number>;
}

export interface PhaseTarget {
  url: string;
  /** Process labels by bench/cpu.ts group. */
  processes: Record<string, string>;
  /** True when the engine holds no backlog (consumers and queues empty); the baseline has none. */
  idle(): Promise<boolean>;
  /** Messages per subject of the events stream so far (engines only). */
  stream?(): Promise<Record<string, number>>;
}

export interface PhaseHelpers {
  generator: BenchChild;
  receiver: BenchChild;
  /** Names of the helper processes for the CPU figures. */
  processes: Record<string, string>;
  drainBoundSeconds: number;
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Runs one phase against `target` with events numbered from `first`; resolves after the drain. */
export async function runPhase(h: PhaseHelpers, target: PhaseTarget, spec: PhaseSpec, first: number): Promise<{ result: PhaseResult; sent: number; qualifying: number }> {
  const streamBefore = await target.stream?.();
  const t0 = epochMs() + 100;
  const w0 = t0 + spec.warmupSeconds * 1000;
  const w1 = w0 + spec.seconds * 1000;
  // CPU is read at the window's edges, on the bench's clock (the generator keeps the same one).
  const snapshots: { cpu: CpuSnapshot; machine: ReturnType<typeof machineCpu> }[] = [];
  const snap = () => snapshots.push({ cpu: cpuSnapshot(), machine: machineCpu() });
  const timers = [setTimeout(snap, w0 - epochMs()), setTimeout(snap, w1 - epochMs())];
  const phase: GeneratorPhase = { url: target.url, mode: spec.mode, rate: spec.rate, inflight: spec.inflight, seconds: spec.warmupSeconds + spec.seconds, first, t0 };
  let log: SendLog;
  try {
    log = await h.generator.request<SendLog>({ phase });
  } catch (err) {
    timers.forEach(clearTimeout);
    throw err;
  }
  // The last request is due just before the window's end, and may be answered before it.
  while (snapshots.length < 2) await new Promise((r) => setTimeout(r, 20));
  const sent = log.status.length;
  const expected = log.status.filter((s, i) => s === 202 && qualifies(first + i)).length;
  const drained = await drain(h, target, first, first + sent, expected);
  const arrivals = await h.receiver.request<Arrivals>({ cmd: 'arrivals', from: first, to: first + sent });
  const streamAfter = await target.stream?.();
  const [before, after] = snapshots;
  const names = { ...h.processes, ...target.processes };
  const cpu = cpuSpent(before.cpu, after.cpu, names);
  const windowMs = w1 - w0;
  // Ours only: the named processes and the machine's servers (not other users' processes or private servers).
  const ours = new Set([...Object.values(names), 'postgres', 'redis', 'nats']);
  const cpu_pct = Object.fromEntries(Object.entries(cpu).filter(([k]) => ours.has(k)).map(([k, ms]) => [k, round((ms / windowMs) * 100)]));
  const machine = after.machine.total - before.machine.total;
  const result = summarise(spec, log, arrivals, first, { w0, w1 });
  return {
    sent,
    qualifying: expected,
    result: {
      ...result,
      drain: drained.how,
      drain_s: round(drained.seconds),
      cpu_pct,
      machine_busy_pct: machine > 0 ? round(((after.machine.busy - before.machine.busy) / machine) * 100) : NaN,
      ...(streamBefore && streamAfter ? { stream: delta(streamBefore, streamAfter) } : {}),
    },
  };
}

/**
 * Waits until every acknowledged qualifying event of [from, to) is delivered; or, short of that, until the
 * engine holds nothing any more and nothing has arrived for 3 s (what is missing then is lost); or until
 * the bound (what is missing is then still in a backlog, or lost: `bound` says it could not be told).
 */
async function drain(h: PhaseHelpers, target: PhaseTarget, from: number, to: number, expected: number): Promise<{ how: PhaseResult['drain']; seconds: number }> {
  const started = epochMs();
  let lastCount = -1;
  let lastProgress = started;
  for (;;) {
    const { count } = await h.receiver.request<{ count: number }>({ cmd: 'count', from, to });
    const now = epochMs();
    if (count >= expected) {
      // Leave the engine idle for the next phase (the recorder and outcome events finish after the webhooks).
      while (!(await target.idle()) && epochMs() - started < h.drainBoundSeconds * 1000) await new Promise((r) => setTimeout(r, 200));
      return { how: 'complete', seconds: (now - started) / 1000 };
    }
    if (count !== lastCount) {
      lastCount = count;
      lastProgress = now;
    }
    if (now - lastProgress > 3000 && (await target.idle())) return { how: 'idle', seconds: (now - started) / 1000 };
    if (now - started > h.drainBoundSeconds * 1000) return { how: 'bound', seconds: (now - started) / 1000 };
    await new Promise((r) => setTimeout(r, 250));
  }
}

function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [subject, n] of Object.entries(after)) if (n - (before[subject] ?? 0) > 0) out[subject] = n - (before[subject] ?? 0);
  return out;
}

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
