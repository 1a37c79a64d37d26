import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/log.ts';
import { resetNamespace } from '../infra/reset.ts';
import { WebhookDeliveryJobSchema } from '../schemas/jobs.ts';
import { openRuntime } from '../infra/runtime.ts';
import { JOBS as JOB_KINDS } from '../core/jobs.ts';
import { DeliveryQueue } from '../modules/webhooks/index.ts';
import { cpuSnapshot, cpuSpent } from './cpu.ts';
import { startReflexProcess, type ReflexProcess } from './processes.ts';
import { percentile, type BenchResult } from './report.ts';

/**
 * `npm run bench -- webhooks`. In one run, one namespace:
 *  1. raw BullMQ: no-op jobs through a worker of the same concurrency as the webhook service (the ceiling);
 *  2. the webhook service's own latency: enqueueDelivery to the receiver getting the request, at a steady
 *     500 deliveries/s (p50, p99), after a warm-up at that rate;
 *  3. latency from POST /api/events of a triggering event to the receiver getting the automation's
 *     webhook, at a steady 500 events/s (p50, p99), with the share spent before the webhook service;
 *  4. deliveries/s: a backlog of delivery jobs sent to a loopback receiver running in a child process,
 *     enqueued while the service drains them, with the CPU each process spent per delivery;
 *  5. deliveries/s from a full queue: the same, enqueued while the queue is paused and timed from its
 *     resumption, as the raw ceiling of phase 1 is (the ratio to it compares these two).
 */
const JOBS = Number(process.env.BENCH_JOBS ?? 20_000);
const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 10_000);
const RATE = 500;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const WARMUP_SECONDS = 4;
/** `BENCH_DELIVERIES_ONLY=1`: only phases 1, 4 and 5 (the raw ceiling and deliveries/s), for quick before/after pairs. */
const DELIVERIES_ONLY = process.env.BENCH_DELIVERIES_ONLY === '1';

type ReceiverReport = { count: number; latencies: number[] };

function startReceiver(): Promise<{ child: ChildProcess; port: number; report(): Promise<ReceiverReport>; reset(): void }> {
  const child = fork(fileURLToPath(new URL('./webhook-receiver.ts', import.meta.url)), { execArgv: ['--import', 'tsx'] });
  return new Promise((resolve) => {
    child.once('message', (m: { port: number }) =>
      resolve({
        child,
        port: m.port,
        report: () => new Promise((r) => { child.once('message', (x) => r(x as ReceiverReport)); child.send({ cmd: 'report' }); }),
        reset: () => child.send({ cmd: 'reset' }),
      }),
    );
  });
}

/** Calls `fn` `total` times at a steady `rate` per second; resolves when every call has settled. */
async function paced(total: number, rate: number, fn: () => Promise<unknown>): Promise<void> {
  const started = Date.now();
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / rate - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(fn());
  }
  await Promise.all(inflight);
}

async function waitUntil(fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('benchmark condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function run(): Promise<BenchResult> {
  const namespace = `bench_wh_${randomBytes(4).toString('hex')}`;
  const config = loadConfig(process.env, { namespace, port: 0, automationsDir: '', logLevel: 'error', webhookAllowHosts: ['127.0.0.1'], webhookHostConcurrency: Number(process.env.REFLEX_WEBHOOK_HOST_CONCURRENCY ?? 100) });
  // This process only drives the load and measures (through a runtime of its own); the services run as
  // they are deployed, each in a process of its own, so the load generator does not take their CPU.
  const rt = await openRuntime(config, createLogger({ level: 'error' }));
  const receiver = await startReceiver();
  const services: ReflexProcess[] = [];
  try {
    const env = {
      REFLEX_NAMESPACE: namespace,
      REFLEX_PORT: '0',
      REFLEX_AUTOMATIONS_DIR: '',
      REFLEX_WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
      REFLEX_WEBHOOK_HOST_CONCURRENCY: String(config.webhookHostConcurrency),
      REFLEX_WEBHOOK_WORKER_CONCURRENCY: String(config.webhookWorkerConcurrency),
    };
    const start = async (...names: string[]) => {
      const p = await startReflexProcess(['start', ...names], env, 'Press Ctrl-C');
      services.push(p);
      return p;
    };
    const apiProcess = await start('api', 'recorder');
    const automations = await start('automations');
    const webhooks = await start('webhooks');
    const api = /API: (http:\/\/[^\s]+)\/api/.exec(apiProcess.output)?.[1];
    if (!api) throw new Error(`could not read the API's URL from: ${apiProcess.output}`);
    const names = {
      [`node ${apiProcess.pid}`]: 'api + recorder',
      [`node ${automations.pid}`]: 'automations',
      [`node ${webhooks.pid}`]: 'webhook service',
      [`node ${receiver.child.pid}`]: 'receiver',
      'bench process': 'load generator',
    };
    // 1. Raw BullMQ no-op processing with the same concurrency.
    const rawName = 'bench-raw';
    const rawQueue = new Queue(rawName, { connection: rt.redis, prefix: rt.names.bullPrefix });
    await rawQueue.addBulk(Array.from({ length: JOBS }, (_, i) => ({ name: 'noop', data: { i }, opts: { removeOnComplete: true } })));
    let done = 0;
    const rawStart = performance.now();
    const rawWorker = new Worker(rawName, async () => { done += 1; }, { connection: rt.redisConnection('bench-raw'), prefix: rt.names.bullPrefix, concurrency: config.webhookWorkerConcurrency });
    await waitUntil(async () => done >= JOBS, 120_000);
    const rawRate = JOBS / ((performance.now() - rawStart) / 1000);
    await rawWorker.close();
    await rawQueue.close();

    const url = `http://127.0.0.1:${receiver.port}/bench`;

    let serviceLatencies: number[] = [];
    let latencies: number[] = [];
    let upstream: number[] = [];
    let resets = 0;
    if (!DELIVERIES_ONLY) {
      // 2. Enqueue → webhook latency: the webhook service alone, at the same steady rate, after a warm-up
      //    at that rate (discarded, as phase 3's): without it the p99 was the first second's, while the
      //    service's HTTP agent opened its connections and its code was compiled.
      const deliveries = new DeliveryQueue(rt.queues);
      const enqueue = () => {
        const id = randomUUID();
        return deliveries.enqueue(WebhookDeliveryJobSchema.parse({ delivery_id: id, idempotency_key: id, url: `${url}/enqueued`, body: JSON.stringify({ sent: Date.now() }) }));
      };
      await paced(RATE * WARMUP_SECONDS, RATE, enqueue);
      await waitUntil(async () => (await receiver.report()).latencies.length >= RATE * WARMUP_SECONDS, 60_000);
      receiver.reset();
      const total = RATE * SECONDS;
      await paced(total, RATE, enqueue);
      await waitUntil(async () => (await receiver.report()).latencies.length >= total, 60_000);
      serviceLatencies = (await receiver.report()).latencies.sort((a, b) => a - b);

      // 3. Event → webhook latency through the automation service at a steady rate.
      const automation = {
        name: 'bench-webhook',
        trigger: { type: 'event', expect: ['bench.ping'] },
        actions: [{ type: 'call-webhook', url: `${url}/latency`, body: '{"sent": {{ event.payload.sent }}}' }],
      };
      const created = await fetch(`${api}/api/automations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(automation) });
      if (created.status !== 201) throw new Error(`could not create the bench automation: ${await created.text()}`);
      // A burst of new client connections can overflow the listen backlog (ECONNRESET); such a post is
      // retried once and counted, and its latency still runs from the first try.
      const post = (sent: number): Promise<unknown> => {
        const once = () =>
          fetch(`${api}/api/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ event: 'bench.ping', resource: { 'reflex.resource.id': 'bench' }, payload: { sent } }),
          }).then((r) => r.arrayBuffer());
        return once().catch(() => {
          resets += 1;
          return once();
        });
      };
      // Warm up until the automation is loaded and the path is hot, then let the automations and recorder
      // consumers finish the outcome events of the phases before, so the run starts on a calm engine.
      await waitUntil(async () => { await post(Date.now()); return (await receiver.report()).latencies.length > 0; }, 10_000);
      await waitUntil(async () => {
        const pending = await Promise.all(
          [rt.names.consumers.automations, rt.names.consumers.recorder].map(async (durable) => {
            const info = await rt.bus.jsm.consumers.info(rt.names.streams.events, durable);
            return info.num_pending + info.num_ack_pending;
          }),
        );
        return pending.every((n) => n === 0);
      }, 120_000);
      // A warm-up at the measured rate, discarded: the first seconds of load pay for JIT compilation and
      // connection set-up in every process; what is measured is the steady state.
      await paced(RATE * WARMUP_SECONDS, RATE, () => post(Date.now()));
      await waitUntil(async () => (await receiver.report()).latencies.length >= RATE * WARMUP_SECONDS, 60_000);
      receiver.reset();
      const since = new Date();
      await paced(total, RATE, () => post(Date.now()));
      await waitUntil(async () => (await receiver.report()).latencies.length >= total, 60_000);
      latencies = (await receiver.report()).latencies.sort((a, b) => a - b);
      // The share before the webhook service: from the event's ingest to its delivery row being created.
      const before = await rt.pg.query<{ ms: number }>(
        `SELECT extract(epoch FROM d.created - e.occurred) * 1000 AS ms FROM webhook_deliveries d JOIN events e ON e.id::text = d.event_id
         WHERE e.event = 'bench.ping' AND e.occurred >= $1`,
        [since],
      );
      upstream = before.rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
    }

    // 4 and 5. Deliveries/s, last (a backlog leaves Postgres busy for a while), with the CPU each process
    //    spent per delivery. Phase 4 enqueues the backlog faster than the service drains it, and times
    //    both. Phase 5 measures as the raw ceiling is: the backlog is enqueued while the queue is paused,
    //    and the drain is timed from its resumption, so this process's enqueueing (and Redis's share of
    //    it) is outside the window; the ratio to raw BullMQ compares these two.
    const queue = rt.queues.queue(JOB_KINDS.webhookDelivery);
    const drain = async (fromFullQueue: boolean) => {
      const backlog = Array.from({ length: DELIVERIES }, () => {
        const id = randomUUID();
        return { delivery_id: id, idempotency_key: id, url, body: '{"x":1}', retry: { attempts: 3, delay_seconds: 1 } };
      });
      const enqueue = async () => {
        for (let i = 0; i < backlog.length; i += 1000) await rt.queues.addBulk(JOB_KINDS.webhookDelivery, backlog.slice(i, i + 1000), []);
      };
      if (fromFullQueue) {
        await waitUntil(async () => (await queue.getActiveCount()) === 0, 60_000);
        await queue.pause();
        await enqueue();
      }
      receiver.reset();
      const cpuBefore = cpuSnapshot();
      const started = performance.now();
      if (fromFullQueue) await queue.resume();
      else await enqueue();
      await waitUntil(async () => (await receiver.report()).count >= DELIVERIES, 300_000);
      const rate = DELIVERIES / ((performance.now() - started) / 1000);
      const cpu = cpuSpent(cpuBefore, cpuSnapshot(), names);
      return { rate, cpuPerDelivery: Object.fromEntries(Object.entries(cpu).map(([k, ms]) => [k, Math.round((ms * 1000) / DELIVERIES)])) };
    };
    const { rate: deliveryRate, cpuPerDelivery } = await drain(false);
    const { rate: drainRate, cpuPerDelivery: drainCpuPerDelivery } = await drain(true);

    return {
      name: 'webhooks',
      rows: [
        { metric: 'raw_bullmq_noop_jobs_per_s', value: Math.round(rawRate), unit: 'jobs/s' },
        { metric: 'deliveries_per_s', value: Math.round(deliveryRate), unit: 'req/s', target: '>= 3000' },
        { metric: 'deliveries_per_s_from_full_queue', value: Math.round(drainRate), unit: 'req/s', target: '>= 3000' },
        { metric: 'deliveries_to_raw_ratio', value: Math.round((drainRate / rawRate) * 1000) / 1000, unit: 'ratio', target: '>= 0.20' },
        { metric: 'enqueue_to_webhook_p50_ms', value: percentile(serviceLatencies, 50), unit: 'ms' },
        { metric: 'enqueue_to_webhook_p99_ms', value: percentile(serviceLatencies, 99), unit: 'ms' },
        { metric: 'event_to_webhook_p50_ms', value: percentile(latencies, 50), unit: 'ms' },
        { metric: 'event_to_webhook_p99_ms', value: percentile(latencies, 99), unit: 'ms', target: '< 50' },
        { metric: 'event_to_webhook_service_p50_ms', value: Math.round(percentile(upstream, 50)), unit: 'ms' },
        { metric: 'event_to_webhook_service_p99_ms', value: Math.round(percentile(upstream, 99)), unit: 'ms' },
      ],
      notes: {
        concurrency: config.webhookWorkerConcurrency,
        per_host_limit: `${config.webhookHostConcurrency} (one receiver; REFLEX_WEBHOOK_HOST_CONCURRENCY, default 64, see docs/webhooks.md)`,
        deliveries: DELIVERIES,
        cpu_us_per_delivery: cpuPerDelivery,
        cpu_us_per_delivery_from_full_queue: drainCpuPerDelivery,
        deliveries_per_s: 'enqueued by this process while the service drains them (its CPU is in the window)',
        deliveries_per_s_from_full_queue: 'the same backlog enqueued while the queue was paused, timed from its resumption, as the raw ceiling is (the ratio compares these)',
        latency_events: latencies.length,
        client_retries: resets,
        rate_per_s: RATE,
        latency_runs: `${SECONDS} s measured after a ${WARMUP_SECONDS} s warm-up at the same rate`,
        setup: 'services as deployed, each in a process of its own: `reflex start api recorder`, `reflex start automations`, `reflex start webhooks`; the receiver in another; this process only drives the load and measures; unsigned JSON bodies',
        event_to_webhook_service: 'ingest of the triggering event to the webhook service creating the delivery row: the automations share of event_to_webhook',
      },
    };
  } finally {
    for (const p of services.reverse()) await p.stop();
    receiver.child.send({ cmd: 'stop' });
    const { bus, redis, pg } = rt;
    if (!process.env.BENCH_KEEP) await resetNamespace({ bus, redis, pg }).catch(() => {});
    await rt.close();
  }
}
