import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { nanos } from '@nats-io/nats-core';
import { uuidv7 } from 'uuidv7';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/log.ts';
import { resetNamespace } from '../infra/reset.ts';
import { openRuntime, type Runtime } from '../infra/runtime.ts';
import type { ReflexEvent } from '../schemas/event.ts';
import { startReflexProcess, type ReflexProcess } from './processes.ts';
import { percentile, type BenchResult } from './report.ts';

/**
 * `npm run bench -- ingest`, in one run and one namespace of its own (reset at the end):
 *  (a) the ceiling: raw JetStream async publish of N events to a stream configured like the events stream;
 *  (b) Reflex: HTTP batch ingest of the same N events to `reflex start api` and `reflex start recorder`,
 *      each a child process as `npm start` runs them (so neither shares an event loop with this client,
 *      nor the API's with the recorder's inserts), timed until every row is in Postgres;
 *  (c) single-event POST /api/events latency at a steady 1,000 events/s (open loop: requests are sent on
 *      schedule whether or not earlier ones have answered, so a stall shows up in the tail), next to the
 *      latency of a raw JetStream publish at the same rate, the floor it cannot beat on this machine.
 */

const N = Number(process.env.BENCH_EVENTS ?? 50_000);
const BATCH = 1000;
const CONCURRENT_BATCHES = 4;
const RAW_WINDOW = 2000;
const RATE = 1000;
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 5);

function event(i: number): ReflexEvent {
  return {
    id: uuidv7(),
    occurred: new Date().toISOString(),
    event: `bench.order.e${i % 10}`,
    resource: { 'reflex.resource.id': `bench.order.${i % 1000}`, region: i % 2 ? 'eu' : 'us' },
    related: [{ 'reflex.resource.id': `bench.customer.${i % 100}`, 'reflex.resource.role': 'customer' }],
    payload: { order: i, total_cents: (i * 7919) % 100_000, items: ['a', 'b'] },
  };
}

/** The raw-publish baseline's own stream and subject (deleted at the end: reset only knows Reflex's). */
const benchStream = (rt: Runtime) => ({ name: `${rt.names.namespace}_bench`, subject: `${rt.names.namespace}.bench.raw` });

async function rawPublish(rt: Runtime): Promise<number> {
  const bench = benchStream(rt);
  await rt.bus.jsm.streams.add({ name: bench.name, subjects: [bench.subject], duplicate_window: nanos(120_000), max_age: nanos(86_400_000) });
  const events = Array.from({ length: N }, (_, i) => event(i));
  const started = performance.now();
  const inFlight = new Set<Promise<unknown>>();
  for (const e of events) {
    const p = rt.bus.js.publish(bench.subject, rt.bus.encode(e), { msgID: e.id });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    if (inFlight.size >= RAW_WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return N / ((performance.now() - started) / 1000);
}

/** `reflex start api` in a process of its own (bench/processes.ts, which BENCH_CHILD_NODE_ARGS profiles), and its URL. */
async function startApi(namespace: string): Promise<{ api: ReflexProcess; url: string }> {
  const api = await startReflexProcess(['start', 'api'], { REFLEX_NAMESPACE: namespace, REFLEX_PORT: '0' }, 'Press Ctrl-C');
  const url = /API: (http:\/\/[^/\s]+)\/api/.exec(api.output)?.[1];
  if (!url) {
    await api.stop();
    throw new Error(`the API printed no URL: ${api.output}`);
  }
  return { api, url };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function post(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function countRows(rt: Runtime): Promise<number> {
  return (await rt.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM events')).rows[0].n;
}

async function httpIngest(rt: Runtime, url: string): Promise<number> {
  const bodies: string[] = [];
  for (let i = 0; i < N; i += BATCH) bodies.push(JSON.stringify(Array.from({ length: Math.min(BATCH, N - i) }, (_, j) => event(i + j))));
  const before = await countRows(rt);
  const started = performance.now();
  let next = 0;
  const sender = async () => {
    while (next < bodies.length) {
      const status = await post(`${url}/api/events`, bodies[next++]);
      if (status !== 202) throw new Error(`batch ingest answered ${status}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENT_BATCHES }, sender));
  while ((await countRows(rt)) < before + N) await new Promise((r) => setTimeout(r, 20));
  return N / ((performance.now() - started) / 1000);
}

/** Sends `send(i)` at a steady RATE for LATENCY_SECONDS (open loop) and returns the sorted latencies in ms. */
async function latency(send: (i: number) => Promise<void>): Promise<number[]> {
  const total = RATE * LATENCY_SECONDS;
  for (let i = 0; i < 200; i++) await send(i); // warm the sockets and the JIT
  const samples: number[] = [];
  const pending: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const sent = performance.now();
    pending.push(send(i).then(() => void samples.push(performance.now() - sent)));
  }
  await Promise.all(pending);
  return samples.sort((a, b) => a - b);
}

function rawSingle(rt: Runtime): (i: number) => Promise<void> {
  return async (i) => {
    const e = event(i);
    await rt.bus.js.publish(benchStream(rt).subject, rt.bus.encode(e), { msgID: e.id });
  };
}

function httpSingle(url: string): (i: number) => Promise<void> {
  return async (i) => {
    const status = await post(`${url}/api/events`, JSON.stringify(event(i)));
    if (status !== 202) throw new Error(`single ingest answered ${status}`);
  };
}

export async function run(): Promise<BenchResult> {
  const namespace = `bench_${randomBytes(4).toString('hex')}`;
  const config = loadConfig(process.env, { namespace, logLevel: 'warn' });
  const rt = await openRuntime(config, createLogger({ level: 'warn' }));
  let engine: ReflexProcess | undefined;
  let recorder: ReflexProcess | undefined;
  try {
    const raw = await rawPublish(rt);
    recorder = await startReflexProcess(['start', 'recorder'], { REFLEX_NAMESPACE: namespace }, 'Press Ctrl-C');
    const started = await startApi(namespace);
    engine = started.api;
    const ingest = await httpIngest(rt, started.url);
    // The same steady rate straight to JetStream first: the floor the HTTP latency sits on, on this machine now.
    const rawSamples = await latency(rawSingle(rt));
    const samples = await latency(httpSingle(started.url));
    return {
      name: 'ingest',
      rows: [
        { metric: 'raw JetStream publish', value: Math.round(raw), unit: 'events/s' },
        { metric: 'HTTP batch ingest → Postgres', value: Math.round(ingest), unit: 'events/s' },
        { metric: 'persisted / raw', value: ingest / raw, unit: 'ratio', target: '>= 0.40' },
        { metric: 'raw JetStream publish p50', value: percentile(rawSamples, 50), unit: 'ms' },
        { metric: 'raw JetStream publish p99', value: percentile(rawSamples, 99), unit: 'ms' },
        { metric: 'single POST p50', value: percentile(samples, 50), unit: 'ms' },
        { metric: 'single POST p99', value: percentile(samples, 99), unit: 'ms', target: '< 5' },
        { metric: 'single POST max', value: samples[samples.length - 1], unit: 'ms' },
      ],
      notes: {
        events: N,
        batch: `${BATCH} events, ${CONCURRENT_BATCHES} requests in flight`,
        latency: `${RATE}/s for ${LATENCY_SECONDS} s, open loop`,
        engine: 'child processes `reflex start api` and `reflex start recorder` (as npm start runs them)',
        cpus: availableParallelism(),
      },
    };
  } finally {
    agent.destroy();
    await engine?.stop();
    await recorder?.stop();
    await rt.bus.jsm.streams.delete(benchStream(rt).name).catch(() => {});
    await resetNamespace(rt).catch(() => {});
    await rt.close();
  }
}
