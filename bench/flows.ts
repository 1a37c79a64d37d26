import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { loadConfig } from '../core/config.ts';
import { normalizeEvents } from '../core/events.ts';
import { createLogger } from '../core/log.ts';
import { resetNamespace } from '../infra/reset.ts';
import { startEngine, type Engine } from '../services/engine.ts';
import type { ApiService } from '../services/api/main.ts';
import { benchNoop, manyTasks } from './flows-module.ts';
import { cpuSnapshot, cpuSpent } from './cpu.ts';
import { startReflexProcess, type ReflexProcess } from './processes.ts';
import { percentile, type BenchResult, type BenchRow } from './report.ts';

/**
 * `npm run bench -- flows`: in one run and one namespace,
 *  1. raw BullMQ no-op jobs/s with the worker concurrency Reflex uses (the ceiling),
 *  2. event -> triggered flow RUNNING latency at 200 events/s through a run-deployment automation,
 *  3. Reflex no-op flow runs/s end to end (deployment run created, worker claims it, every state
 *     recorded with its outbox event, events published),
 *  4. per-task overhead inside a running flow,
 *  5. an idle worker process's RSS.
 * The engine (API, automations, outbox, scheduler) runs in this process and flow runs in one worker
 * process (`reflex worker start`), which is how they are deployed.
 */

const CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 100);
const RAW_JOBS = Number(process.env.BENCH_RAW_JOBS ?? 10_000);
const FLOW_RUNS = Number(process.env.BENCH_FLOW_RUNS ?? 3000);
const EVENTS_PER_S = Number(process.env.BENCH_FLOW_EVENTS_PER_S ?? 200);
const WARMUP_SECONDS = 2;
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 5);
const TASKS = 10_000;
const IDLE_SETTLE_MS = 40_000;
const progress = (msg: string) => process.stderr.write(`[bench flows] ${msg}\n`);
/** BENCH_PARTS=runs,latency (say) measures only those parts, for profiling one of them. */
const PARTS = new Set((process.env.BENCH_PARTS ?? 'raw,runs,latency,tasks,rss').split(','));

export async function run(): Promise<BenchResult> {
  const namespace = `bench_${randomBytes(4).toString('hex')}`;
  // The task-overhead flow runs in this process through the SDK, which connects from REFLEX_*: without
  // this it would record into the default namespace (or, with no tables there, not at all) and time nothing.
  process.env.REFLEX_NAMESPACE = namespace;
  const config = loadConfig(process.env, { namespace, port: 0, logLevel: 'silent', automationsDir: '', flowsModule: 'bench/flows-module.ts', workerConcurrency: CONCURRENCY });
  const engine = await startEngine(config, { services: ['automations', 'outbox', 'scheduler', 'api'], log: createLogger({ level: 'silent' }) });
  const rows: BenchRow[] = [];
  const notes: Record<string, unknown> = { namespace, worker_concurrency: CONCURRENCY, cores: (await import('node:os')).cpus().length };
  let worker: ReflexProcess | undefined;
  try {
    let raw = NaN;
    if (PARTS.has('raw')) {
      progress('raw BullMQ');
      raw = await rawBullmq(engine);
      rows.push({ metric: 'raw BullMQ no-op jobs/s', value: Math.round(raw), unit: 'jobs/s' });
    }
    // The engine runs without a worker; flow runs go to one worker process, as workers are deployed.
    if (PARTS.has('runs') || PARTS.has('latency')) worker = await startWorkerProcess(namespace, 'bench', CONCURRENCY);
    if (PARTS.has('latency')) {
      progress('event -> flow latency');
      const latency = await eventToStart(engine);
      rows.push({ metric: `event -> flow RUNNING p50 (${EVENTS_PER_S}/s)`, value: latency.p50, unit: 'ms' });
      rows.push({ metric: `event -> flow RUNNING p99 (${EVENTS_PER_S}/s)`, value: latency.p99, unit: 'ms', target: '< 50' });
      notes.latency = latency.note;
    }
    if (PARTS.has('runs')) {
      progress('flow runs');
      const flows = await flowThroughput(engine, (worker as ReflexProcess).pid);
      rows.push({ metric: 'Reflex no-op flow runs/s', value: Math.round(flows.runsPerSecond), unit: 'runs/s', target: '>= 1000' });
      if (!Number.isNaN(raw)) rows.push({ metric: 'ratio Reflex / raw BullMQ', value: flows.runsPerSecond / raw, unit: 'x' });
      rows.push({ metric: 'run creation (API path) runs/s', value: Math.round(flows.createdPerSecond), unit: 'runs/s' });
      notes.flow_runs = FLOW_RUNS;
      notes.state_events_published_during_run = flows.events;
      notes.cpu_us_per_run = flows.cpuPerRun;
    }
    await worker?.stop();
    worker = undefined;
    if (PARTS.has('tasks')) {
      progress('task overhead');
      const tasks = await taskOverhead();
      rows.push({ metric: 'task overhead, sequential', value: tasks.sequential, unit: 'µs/task', target: '< 1000' });
      rows.push({ metric: 'task overhead, map (concurrent)', value: tasks.map, unit: 'µs/task' });
    }
    if (PARTS.has('rss')) {
      progress('idle worker RSS');
      const rss = await idleWorkerRss(namespace);
      rows.push({ metric: 'worker RSS 3 s after start', value: rss.started, unit: 'MB' });
      rows.push({ metric: 'idle worker RSS (steady)', value: rss.steady, unit: 'MB', target: '< 120' });
      notes.idle_worker = `read after ${Math.round(rss.afterMs / 1000)} s idle (its RSS last fell by more than 1 MB ${Math.round(rss.lastDropMs / 1000)} s after start); worker run with tsx (TypeScript flows module)`;
    }
  } finally {
    await worker?.stop();
    const { bus, redis, pg } = engine.rt;
    for (const s of [...engine.services].reverse()) await s.stop().catch(() => {});
    if (!process.env.BENCH_KEEP) await resetNamespace({ bus, redis, pg }).catch(() => {});
    await engine.stop();
  }
  return { name: 'flows', rows, notes };
}

async function rawBullmq(engine: Engine): Promise<number> {
  const { rt } = engine;
  const name = 'bench-raw';
  const queue = new Queue(name, { connection: rt.redis, prefix: rt.names.bullPrefix });
  let done = 0;
  let finish: () => void = () => {};
  const all = new Promise<void>((r) => (finish = r));
  const worker = new Worker(name, async () => null, {
    connection: rt.redisConnection('bench-raw'),
    prefix: rt.names.bullPrefix,
    concurrency: CONCURRENCY,
    autorun: false,
  });
  worker.on('completed', () => {
    if (++done === RAW_JOBS) finish();
  });
  for (let i = 0; i < RAW_JOBS; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, RAW_JOBS - i) }, (_, j) => ({ name: 'noop', data: { i: i + j }, opts: { removeOnComplete: true } })));
  }
  const started = performance.now();
  void worker.run();
  await all;
  const rate = RAW_JOBS / ((performance.now() - started) / 1000);
  await worker.close();
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  return rate;
}

async function countCompleted(engine: Engine, deploymentId: string): Promise<number> {
  const r = await engine.rt.pg.query<{ n: string }>(`SELECT count(*) AS n FROM flow_runs WHERE state_type = 'COMPLETED' AND deployment_id = $1`, [deploymentId]);
  return Number(r.rows[0].n);
}

async function flowThroughput(engine: Engine, workerPid: number): Promise<{ runsPerSecond: number; createdPerSecond: number; events: number; cpuPerRun: Record<string, number> }> {
  const { rt } = engine;
  const deployment = await engine.modules.runs.deployments.create({ name: 'bench-noop', flow: benchNoop.flowName, description: null, parameters: {}, parameter_schema: null, work_pool: 'bench', schedules: [], tags: [], concurrency_limit: null, paused: false });
  let events = 0;
  const sub = rt.nats.subscribe(rt.names.eventFilterSubject('reflex.flow-run.*'), { callback: () => void events++ });
  const cpuBefore = cpuSnapshot();
  const started = performance.now();
  // As the API does it: each run created and enqueued by its own request, many in flight at once.
  const inFlight = 200;
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < FLOW_RUNS) {
      next++;
      await engine.modules.runs.deploymentRuns.create(deployment, { source: 'manual' });
    }
  }));
  const createdAt = performance.now();
  for (;;) {
    if ((await countCompleted(engine, deployment.id)) >= FLOW_RUNS) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const finished = performance.now();
  const cpu = cpuSpent(cpuBefore, cpuSnapshot(), { [`node ${workerPid}`]: 'worker process', 'bench process': 'engine (bench process)' });
  sub.unsubscribe();
  const cpuPerRun = Object.fromEntries(Object.entries(cpu).map(([k, ms]) => [k, Math.round((ms * 1000) / FLOW_RUNS)]));
  return { runsPerSecond: FLOW_RUNS / ((finished - started) / 1000), createdPerSecond: FLOW_RUNS / ((createdAt - started) / 1000), events, cpuPerRun };
}

async function eventToStart(engine: Engine): Promise<{ p50: number; p99: number; note: string }> {
  const { rt } = engine;
  await engine.modules.runs.deployments.create({ name: 'bench-triggered', flow: benchNoop.flowName, description: null, parameters: {}, parameter_schema: null, work_pool: 'bench', schedules: [], tags: [], concurrency_limit: null, paused: false });
  const api = engine.services.find((s) => s.name === 'api') as ApiService;
  const res = await fetch(`${api.url}/api/automations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'bench: run on trigger',
      trigger: { type: 'event', expect: ['bench.trigger'] },
      actions: [{ type: 'run-deployment', deployment_name: 'bench-triggered', parameters: { event_id: '{{ event.id }}' } }],
    }),
  });
  if (res.status !== 201) throw new Error(`could not create the bench automation: ${res.status} ${await res.text()}`);
  await new Promise((r) => setTimeout(r, 1500)); // the automations service loads it
  const total = EVENTS_PER_S * LATENCY_SECONDS;
  const sent = new Map<string, number>();
  // A warm-up at the same rate, discarded (its events are not in `sent`): what is measured is the steady
  // state, not JIT compilation and connection set-up.
  for (const measured of [false, true]) {
    const count = measured ? total : EVENTS_PER_S * WARMUP_SECONDS;
    const t0 = Date.now();
    for (let i = 0; i < count; i++) {
      const due = t0 + (i * 1000) / EVENTS_PER_S;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const [event] = normalizeEvents({ event: 'bench.trigger', resource: { 'reflex.resource.id': `bench.${i}` } }, { maxPayloadBytes: 1 << 20 });
      if (measured) sent.set(event.id, Date.parse(event.occurred));
      void rt.bus.publish(event);
    }
  }
  const deadline = Date.now() + 30_000;
  let rows: Array<{ event_id: string; created: Date; pending: Date; running: Date }> = [];
  while (Date.now() < deadline) {
    const r = await rt.pg.query<{ event_id: string; created: Date; pending: Date; running: Date }>(
      `SELECT f.parameters->>'event_id' AS event_id, f.created,
         min(s.timestamp) FILTER (WHERE s.type = 'PENDING') AS pending, min(s.timestamp) FILTER (WHERE s.type = 'RUNNING') AS running
       FROM flow_runs f JOIN flow_run_states s ON s.flow_run_id = f.id
       WHERE f.parameters ? 'event_id' GROUP BY 1, 2 HAVING min(s.timestamp) FILTER (WHERE s.type = 'RUNNING') IS NOT NULL`,
    );
    rows = r.rows;
    if (rows.filter((r) => sent.has(r.event_id)).length >= total) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const measured = rows.filter((r) => sent.has(r.event_id));
  const spans = (from: (r: (typeof rows)[number]) => number, to: (r: (typeof rows)[number]) => number) => measured.map((r) => to(r) - from(r)).sort((a, b) => a - b);
  const sentAt = (r: (typeof rows)[number]) => sent.get(r.event_id) as number;
  const latencies = spans(sentAt, (r) => r.running.getTime());
  const created = spans(sentAt, (r) => r.created.getTime());
  const toPending = spans((r) => r.created.getTime(), (r) => r.pending.getTime());
  const toRunning = spans((r) => r.pending.getTime(), (r) => r.running.getTime());
  const p = (xs: number[]) => `p50 ${percentile(xs, 50)} / p99 ${percentile(xs, 99)} ms`;
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    note:
      `${latencies.length}/${total} events started their flow (event occurred -> RUNNING state committed; ms clock resolution; ` +
      `measured after a ${WARMUP_SECONDS} s warm-up at the same rate). ` +
      `Stages: event -> run created ${p(created)}; created -> PENDING (queue, worker) ${p(toPending)}; PENDING -> RUNNING ${p(toRunning)}`,
  };
}

async function taskOverhead(): Promise<{ sequential: number; map: number }> {
  const measure = async (mode: 'sequential' | 'map') => {
    const started = performance.now();
    await manyTasks({ n: TASKS, mode });
    return ((performance.now() - started) * 1000) / TASKS;
  };
  await manyTasks({ n: 200, mode: 'sequential' }); // warm-up
  return { sequential: Math.round(await measure('sequential')), map: Math.round(await measure('map')) };
}

/**
 * RSS of a worker process with nothing to do: just after start-up, and once idle for IDLE_SETTLE_MS. V8's
 * memory reducer returns the start-up garbage to the OS in one step some seconds into idleness (about 16 s
 * after start here: 167-168 MB for 15 s, then 117-118 MB), so a reading taken on the plateau before that
 * step, which the stop-when-stable rule this replaced sometimes did, says nothing of the idle worker.
 */
async function idleWorkerRss(namespace: string): Promise<{ started: number; steady: number; afterMs: number; lastDropMs: number }> {
  const worker = await startWorkerProcess(namespace, 'idle', 1);
  const rss = () => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${worker.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024);
  try {
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    const started = rss();
    let last = started;
    let lastDropMs = 3000;
    while (Date.now() - t0 < IDLE_SETTLE_MS) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = rss();
      if (now < last - 1) lastDropMs = Date.now() - t0;
      last = now;
    }
    return { started, steady: last, afterMs: Date.now() - t0, lastDropMs };
  } finally {
    await worker.stop();
  }
}

/** `reflex worker start` in a process of its own, as workers are deployed; resolves once it takes runs. */
function startWorkerProcess(namespace: string, pool: string, concurrency: number): Promise<ReflexProcess> {
  const args = ['worker', 'start', '--pool', pool, '--flows', 'bench/flows-module.ts', '--concurrency', String(concurrency)];
  return startReflexProcess(args, { REFLEX_NAMESPACE: namespace }, 'Reflex worker running');
}
