import type { BenchChild } from './e2e-child.ts';
import { epochMs } from './e2e-child.ts';
import type { GeneratorPhase, SendLog } from './e2e-generator.ts';
import { clientSide, hopPercentiles, type Backlog, type Hop, type HopTimes } from './e2e-hops.ts';
import type { Arrivals } from './e2e-receiver.ts';
import { qualifies } from './e2e-scenario.ts';
import { summarise } from './e2e-summary.ts';
import { cpuSnapshot, cpuSpent, machineCpu, type CpuSnapshot } from './cpu.ts';

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
  /** CPU of each process from the phase's first request to the end of its drain, µs per accepted event. */
  cpu_us_per_event: Record<string, number>;
  /** Whole machine (every core, everyone's processes) busy during the window, % of all cores. */
  machine_busy_pct: number;
  /** Messages the events stream got per subject during the phase (engines only). */
  stream?: Record<string, number>;
  /** What waited at each hop when the measured window ended (engines: every hop; baseline: client side). */
  backlog: Partial<Backlog>;
  /** p50 / p99 of each hop of the path (engines only). */
  hops?: Record<Hop, { p50: number; p99: number }>;
}

export interface PhaseTarget {
  url: string;
  /** Process labels by bench/cpu.ts group. */
  processes: Record<string, string>;
  /** True when the engine holds no backlog (consumers and queues empty); the baseline has none. */
  idle(): Promise<boolean>;
  /** Messages per subject of the events stream so far (engines only). */
  stream?(): Promise<Record<string, number>>;
  /** What the engine holds at each hop now (engines only). */
  backlog?(): Promise<Omit<Backlog, 'ingest' | 'outstanding'>>;
  /** The timestamps the engine recorded for the deliveries of events [from, to) (engines only). */
  hops?(from: number, to: number): Promise<HopTimes>;
}

export interface PhaseHelpers {
  generator: BenchChild;
  receiver: BenchChild;
  /** Names of the helper processes for the CPU figures. */
  processes: Record<string, string>;
  drainBoundSeconds: number;
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * Runs one phase against `target` with events numbered from `first`; resolves after the drain.
 * `onDrained` runs right after the drain, before the bench's own queries (the counts must not see them).
 */
export async function runPhase(
  h: PhaseHelpers,
  target: PhaseTarget,
  spec: PhaseSpec,
  first: number,
  onDrained?: (qualifying: number) => Promise<void>,
): Promise<{ result: PhaseResult; sent: number }> {
  const streamBefore = await target.stream?.();
  const phaseStart = cpuSnapshot();
  const t0 = epochMs() + 100;
  const w0 = t0 + spec.warmupSeconds * 1000;
  const w1 = w0 + spec.seconds * 1000;
  // CPU is read at the window's edges, on the bench's clock (the generator keeps the same one).
  const snapshots: { cpu: CpuSnapshot; machine: ReturnType<typeof machineCpu> }[] = [];
  const snap = () => snapshots.push({ cpu: cpuSnapshot(), machine: machineCpu() });
  let engineBacklog: Promise<Omit<Backlog, 'ingest' | 'outstanding'> | undefined> = Promise.resolve(undefined);
  const timers = [
    setTimeout(snap, w0 - epochMs()),
    setTimeout(() => {
      snap();
      engineBacklog = target.backlog?.().catch(() => undefined) ?? Promise.resolve(undefined);
    }, w1 - epochMs()),
  ];
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
  const phaseEnd = cpuSnapshot();
  await onDrained?.(expected);
  const arrivals = await h.receiver.request<Arrivals>({ cmd: 'arrivals', from: first, to: first + sent });
  const streamAfter = await target.stream?.();
  const [before, after] = snapshots;
  const names = { ...h.processes, ...target.processes };
  const cpu = cpuSpent(before.cpu, after.cpu, names);
  const windowMs = w1 - w0;
  // Ours only: the named processes and the machine's servers (not other users' processes or private servers).
  const ours = new Set([...Object.values(names), 'postgres', 'redis', 'nats']);
  const cpu_pct = Object.fromEntries(Object.entries(cpu).filter(([k]) => ours.has(k)).map(([k, ms]) => [k, round((ms / windowMs) * 100)]));
  const accepted = log.status.filter((st) => st === 202).length;
  const whole = cpuSpent(phaseStart, phaseEnd, names);
  const cpu_us_per_event = Object.fromEntries(Object.entries(whole).filter(([k]) => ours.has(k)).map(([k, ms]) => [k, Math.round((ms * 1000) / Math.max(1, accepted))]));
  const machine = after.machine.total - before.machine.total;
  const result = summarise(spec, log, arrivals, first, { w0, w1 });
  const backlog = { ...clientSide(log, arrivals, first, qualifies, w1), ...(await engineBacklog) };
  const hops = target.hops ? hopPercentiles(await target.hops(first, first + sent), log, arrivals, first, w0, w1) : undefined;
  return {
    sent,
    result: {
      ...result,
      drain: drained.how,
      drain_s: round(drained.seconds),
      cpu_pct,
      cpu_us_per_event,
      machine_busy_pct: machine > 0 ? round(((after.machine.busy - before.machine.busy) / machine) * 100) : NaN,
      ...(streamBefore && streamAfter ? { stream: delta(streamBefore, streamAfter) } : {}),
      backlog,
      ...(hops ? { hops } : {}),
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
