import { randomBytes } from 'node:crypto';
import { loadavg, availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { epochMs, forkBenchChild } from './e2e-child.ts';
import { startDeployment, type Deployment, type DeploymentName } from './e2e-deployments.ts';
import { createAutomation, openProbe, type EngineProbe } from './e2e-engine.ts';
import { runPhase, type PhaseHelpers, type PhaseSpec, type PhaseTarget } from './e2e-phase.ts';
import { buildReport, type DeploymentRun } from './e2e-report.ts';
import { openCounter, startPrivateServers, type Counter, type PrivateServers } from './e2e-counts.ts';
import type { BenchResult, BenchTable } from './report.ts';

/**
 * `npm run bench -- e2e`: the user's scenario end to end. One automation ("`order.created` with
 * `payload.amount > 100` → call-webhook to a receiver on loopback", created through the API), events
 * POSTed one per request, half of them qualifying; latency from the moment a POST is due to the receiver
 * getting the webhook. Each Reflex deployment (`npm start`; the services as separate processes) is
 * measured phase by phase, and each phase is run just before on the baseline (a non-durable plain
 * node:http flow) through the same generator and receiver, so every figure has a same-time ratio.
 *
 * Options: --deployment default|split|both|baseline (both), --phases 200,500,1000,2000,3000,max,
 * --seconds 10 (measured per phase), --warmup 2 (per phase, at its load), --drain 120 (bound, s),
 * --inflight 64 (the max phase), --counts (private servers; round trips per qualifying event, see
 * bench/e2e-counts.ts). Engines get the environment of this process (REFLEX_* settings apply)
 * with their own namespace, REFLEX_WEBHOOK_ALLOW_HOSTS=127.0.0.1 and REFLEX_AUTOMATIONS_DIR=''.
 */
const progress = (msg: string) => process.stderr.write(`[bench e2e ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function options(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      deployment: { type: 'string', default: 'both' },
      phases: { type: 'string', default: '200,500,1000,2000,3000,max' },
      seconds: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      drain: { type: 'string', default: '120' },
      inflight: { type: 'string', default: '64' },
      counts: { type: 'boolean', default: false },
    },
  });
  const deployments: DeploymentName[] | null = ({ both: ['default', 'split'], default: ['default'], split: ['split'], baseline: [] } as Record<string, DeploymentName[]>)[values.deployment] ?? null;
  if (!deployments) throw new Error(`--deployment must be default, split, both or baseline, not "${values.deployment}"`);
  const seconds = Number(values.seconds);
  const warmupSeconds = Number(values.warmup);
  const inflight = Number(values.inflight);
  const phases = values.phases.split(',').map((p): PhaseSpec => {
    if (p === 'max') return { label: `max (${inflight} in flight)`, mode: 'inflight', rate: 0, inflight, warmupSeconds, seconds };
    const rate = Number(p);
    if (!(rate > 0)) throw new Error(`--phases takes rates (events/s) and "max", not "${p}"`);
    return { label: `${rate}/s`, mode: 'rate', rate, inflight: 0, warmupSeconds, seconds };
  });
  return { deployments, phases, drainBoundSeconds: Number(values.drain), counts: values.counts };
}

export async function run(opts: { json: boolean; args: string[] }): Promise<BenchResult> {
  const o = options(opts.args);
  const load = { start: loadavg().map((l) => Math.round(l * 100) / 100) };
  const started = Date.now();
  // The helper processes, stopped last (in reverse); the deployment under test and its probe first.
  const helpers: { stop(): Promise<void> }[] = [];
  let deployment: Deployment | undefined;
  let probe: EngineProbe | undefined;
  let counter: Counter | undefined;
  let servers: PrivateServers | undefined;
  const countTables: BenchTable[] = [];
  const cleanup = async () => {
    await deployment?.stop().catch(() => {});
    await counter?.close().catch(() => {});
    await probe?.close().catch(() => {});
    await servers?.stop().catch(() => {});
    for (const c of helpers.reverse()) await c.stop().catch(() => {});
    helpers.length = 0;
  };
  // Ctrl-C: the engine runs in a process group of its own (npm start), so it is stopped here, not by the terminal.
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const runs: DeploymentRun[] = [];
  try {
    if (o.counts) {
      progress('starting private NATS, Redis and PostgreSQL servers (--counts)');
      servers = await startPrivateServers();
    }
    const receiver = await forkBenchChild('./e2e-receiver.ts');
    helpers.push(receiver);
    const generator = await forkBenchChild('./e2e-generator.ts');
    helpers.push(generator);
    const receiverUrl = `http://127.0.0.1:${receiver.ready.port}`;
    const baselineDeployment = await startDeployment('baseline', {}, receiverUrl);
    helpers.push(baselineDeployment);
    const h: PhaseHelpers = {
      generator,
      receiver,
      processes: { [`node ${generator.pid}`]: 'generator', [`node ${receiver.pid}`]: 'receiver', 'bench process': 'bench process' },
      drainBoundSeconds: o.drainBoundSeconds,
    };
    const baseline: PhaseTarget = { url: baselineDeployment.url, processes: baselineDeployment.processes, idle: async () => true };
    let next = 0;
    const phase = async (target: PhaseTarget, spec: PhaseSpec, count?: Counter) => {
      await count?.begin();
      const label = `${target === baseline ? 'baseline' : 'engine'} ${spec.label}`;
      const onDrained = count ? async (qualifying: number) => void countTables.push(...(await count.end(qualifying, label))) : undefined;
      const { result, sent } = await runPhase(h, target, spec, next, onDrained);
      next += sent;
      return result;
    };
    progress('baseline warm-up');
    await phase(baseline, { label: 'warm-up', mode: 'rate', rate: 500, inflight: 0, warmupSeconds: 0, seconds: 5 });

    // `--deployment baseline`: the phases on the baseline alone (null: no engine).
    for (const name of o.deployments.length > 0 ? o.deployments : [null]) {
      const phases: DeploymentRun['phases'] = [];
      let target: PhaseTarget | undefined;
      if (name) {
        const namespace = `bench_e2e_${randomBytes(4).toString('hex')}`;
        const env = { ...servers?.env, REFLEX_NAMESPACE: namespace, REFLEX_PORT: '0', REFLEX_AUTOMATIONS_DIR: '', REFLEX_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' };
        progress(`starting ${name} (namespace ${namespace})`);
        deployment = await startDeployment(name, env, receiverUrl);
        probe = await openProbe(namespace, env);
        await createAutomation(deployment.url, receiverUrl);
        if (servers) counter = await openCounter(probe.rt, servers.env);
        const p = probe;
        target = { url: deployment.url, processes: deployment.processes, idle: () => p.idle(), stream: () => p.stream(), backlog: () => p.backlog(), hops: (a, b) => p.hops(a, b) };
        await untilLoaded(h, target, () => next++);
        progress(`${name} warm-up`);
        await phase(target, { label: 'warm-up', mode: 'rate', rate: 200, inflight: 0, warmupSeconds: 0, seconds: 5 });
      }
      for (const spec of o.phases) {
        progress(`${spec.label}: baseline`);
        const b = await phase(baseline, spec);
        if (!target) {
          phases.push({ baseline: b });
          continue;
        }
        progress(`${spec.label}: ${name}`);
        const r = await phase(target, spec, counter);
        progress(`${spec.label}: ${name} ${r.webhooks_per_s} webhooks/s of ${r.needed_per_s}, p99 ${r.p99_ms} ms, drain ${r.drain} ${r.drain_s} s`);
        phases.push({ reflex: r, baseline: b });
      }
      runs.push({ deployment: name ?? 'baseline', phases });
      await deployment?.stop();
      deployment = undefined;
      await counter?.close();
      counter = undefined;
      await probe?.close();
      probe = undefined;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
  return buildReport(runs, countTables, {
    cores: availableParallelism(),
    load_average_1_5_15: { ...load, end: loadavg().map((l) => Math.round(l * 100) / 100) },
    duration_s: Math.round((Date.now() - started) / 1000),
    phases: `${o.phases[0]?.warmupSeconds ?? 0} s at the phase's load, then ${o.phases[0]?.seconds ?? 0} s measured; drain bounded at ${o.drainBoundSeconds} s`,
    ...(o.counts ? { counts: 'private servers, MONITOR and a wildcard NATS subscription on: timings are slowed, read the counts' } : {}),
    settings: settings(),
  });
}

/** The REFLEX_* and BENCH_* variables of this run (the engine inherits them), secrets masked. */
function settings(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || !(k.startsWith('REFLEX_') || k.startsWith('BENCH_'))) continue;
    out[k] = /KEY|SECRET|PASSWORD/.test(k) ? '***' : v.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  }
  return out;
}

/** Sends a few qualifying events a second until one reaches the receiver: the automation is loaded. */
async function untilLoaded(h: PhaseHelpers, target: PhaseTarget, take: () => number): Promise<void> {
  for (let attempt = 0; attempt < 60; attempt++) {
    const first = take();
    const n = first % 2 === 0 ? first : take();
    await h.generator.request({ phase: { url: target.url, mode: 'rate', rate: 1, inflight: 0, seconds: 1, first: n, t0: epochMs() } });
    await new Promise((r) => setTimeout(r, 500));
    const { count } = await h.receiver.request<{ count: number }>({ cmd: 'count', from: n, to: n + 1 });
    if (count > 0) return;
  }
  throw new Error('the automation did not fire within 30 s of its creation');
}
