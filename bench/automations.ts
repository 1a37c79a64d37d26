import { randomBytes } from 'node:crypto';
import { uuidv7 } from 'uuidv7';
import { BatchConsumer } from '../infra/batch-consumer.ts';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/log.ts';
import { resetNamespace } from '../infra/reset.ts';
import { openRuntime, type Runtime } from '../infra/runtime.ts';
import type { ReflexEvent } from '../schemas/event.ts';
import type { AutomationDocument } from '../schemas/automation.ts';
import { insertAutomation, validateAutomation } from '../modules/automations/index.ts';
import { AutomationsService } from '../services/automations/service.ts';
import { createModules } from '../services/modules.ts';
import { percentile, type BenchResult } from './report.ts';
import { flowControlPhase } from './automations-flow.ts';

/**
 * `npm run bench -- automations`: 100 enabled automations of mixed kinds. Measures, in one run:
 * the raw JetStream consumption rate of a backlog (the ceiling), the rate at which the automation
 * service evaluates the same backlog, and the latency from publish to action performed at 1,000 events/s.
 */

const BACKLOG = Number(process.env.BENCH_EVENTS ?? 60_000);
const RATE = 1000;
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 8);
const PROBE_EVERY = 10;

const name = (i: number) => `bench.e${i % 10}`;

export function automations(): AutomationDocument[] {
  const docs: unknown[] = [];
  const add = (kind: string, i: number, trigger: unknown) => docs.push({ name: `${kind}-${i}`, trigger, actions: [{ type: 'do-nothing' }] });
  for (let i = 0; i < 30; i++) add('windowed', i, { type: 'event', expect: [name(i)], threshold: 200, within: 30, for_each: ['payload.k'] });
  for (let i = 0; i < 14; i++) add('rare', i, { type: 'event', expect: [name(i)], condition: { '>': [{ var: 'event.payload.v' }, 998] } });
  add('probe', 0, { type: 'event', expect: ['bench.probe'] });
  for (let i = 0; i < 15; i++) {
    add('heartbeat', i, { type: 'event', after: [name(i)], expect: [name(i)], posture: 'Proactive', within: 60, for_each: ['reflex.resource.id'] });
  }
  const child = (i: number) => ({ type: 'event', expect: [name(i)], threshold: 100, within: 10 });
  for (let i = 0; i < 10; i++) add('compound', i, { type: 'compound', require: 'all', within: 10, triggers: [child(i), child(i + 1)] });
  for (let i = 0; i < 10; i++) add('sequence', i, { type: 'sequence', within: 30, triggers: [child(i), child(i + 3), child(i + 6)] });
  for (let i = 0; i < 10; i++) {
    add('wildcard', i, { type: 'event', expect: ['bench.*'], match: { 'reflex.resource.id': `bench.r${i}*` }, threshold: 500, within: 20, for_each: ['reflex.resource.id'] });
  }
  for (let i = 0; i < 10; i++) add('armed', i, { type: 'event', after: [name(i)], expect: [name(i + 5)], threshold: 50, within: 5, for_each: ['payload.k'] });
  return docs.map((d) => validateAutomation(d));
}

function event(i: number, extra: Partial<ReflexEvent> = {}): ReflexEvent {
  return {
    id: uuidv7(),
    occurred: new Date().toISOString(),
    event: name(i),
    resource: { 'reflex.resource.id': `bench.r${i % 100}` },
    related: [],
    payload: { k: `k${i % 50}`, v: (i * 7919) % 1000 },
    ...extra,
  };
}

export async function publishBacklog(rt: Runtime, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1000) {
    await rt.bus.publishMany(Array.from({ length: Math.min(1000, n - i) }, (_, j) => event(i + j)));
  }
}

export async function drained(rt: Runtime, durable: string): Promise<void> {
  for (;;) {
    const info = await rt.bus.jsm.consumers.info(rt.names.streams.events, durable);
    if (info.num_pending === 0 && info.num_ack_pending === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The ceiling: a bare durable consumer acknowledging the backlog in the same batches. */
async function rawRate(rt: Runtime): Promise<number> {
  const durable = `${rt.names.namespace}_raw`;
  const consumer = await rt.bus.consumer(durable);
  let seen = 0;
  const start = performance.now();
  const bc = new BatchConsumer(consumer, async (batch) => {
    for (const m of batch) m.ack();
    seen += batch.length;
  }, rt.log, { maxBatch: 2000, prefetch: 4000 });
  await bc.start();
  await drained(rt, durable);
  const seconds = (performance.now() - start) / 1000;
  await bc.stop();
  return seen / seconds;
}

export async function run(): Promise<BenchResult> {
  const namespace = `bench_auto_${randomBytes(4).toString('hex')}`;
  const config = loadConfig(process.env, { namespace, logLevel: 'warn', automationsDir: '', port: 0 });
  const rt = await openRuntime(config, createLogger({ level: 'warn' }));
  try {
    const docs = automations();
    for (const d of docs) await insertAutomation(rt.pg, d);
    await publishBacklog(rt, BACKLOG);
    const raw = await rawRate(rt);

    // The automation service evaluates the same backlog from the start of the stream.
    const service = new AutomationsService(rt, createModules(rt));
    const t0 = performance.now();
    await service.start();
    await drained(rt, rt.names.consumers.automations);
    const evaluated = BACKLOG / ((performance.now() - t0) / 1000);

    // Latency at 1,000 events/s, in steady state (the backlog is drained: its batches are acknowledged once
    // their firings are dispatched): every 10th event is a probe that fires an automation.
    const latencyStart = Date.now();
    const total = RATE * LATENCY_SECONDS;
    const tick = 20;
    const perTick = (RATE * tick) / 1000;
    for (let sent = 0; sent < total; ) {
      const due = latencyStart + (sent / RATE) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const batch: ReflexEvent[] = [];
      for (let j = 0; j < perTick && sent < total; j++, sent++) {
        batch.push(sent % PROBE_EVERY === 0 ? event(sent, { event: 'bench.probe', payload: { sent: Date.now() } }) : event(sent));
      }
      void rt.bus.publishMany(batch.map((e) => (e.event === 'bench.probe' ? { ...e, payload: { sent: Date.now() } } : e)));
    }
    await drained(rt, rt.names.consumers.automations);
    // Publish to the action performed: the outcome's time is taken as the firing's actions are done.
    const probes = await rt.pg.query<{ sent: string; done: string }>(
      `SELECT f.triggering_event->'payload'->>'sent' AS sent, f.actions->0->>'updated' AS done
       FROM automation_firings f WHERE f.triggering_event->>'event' = 'bench.probe' AND f.actions->0->>'status' = 'executed'`,
    );
    const latencies = probes.rows.map((r) => Date.parse(r.done) - Number(r.sent)).sort((a, b) => a - b);
    const firingsRes = await rt.pg.query<{ n: string }>('SELECT count(*)::text AS n FROM automation_firings');
    await service.stop();
    // Flow control, in namespaces of its own.
    const flow = await flowControlPhase({ automations, publishBacklog, drained });

    return {
      name: 'automations',
      rows: [
        { metric: 'raw JetStream consumption', value: Math.round(raw), unit: 'events/s' },
        { metric: 'events evaluated (100 automations)', value: Math.round(evaluated), unit: 'events/s', target: '>= 10000' },
        { metric: 'ratio to raw JetStream', value: evaluated / raw, unit: 'x' },
        { metric: 'publish -> action performed p50 @1000/s', value: percentile(latencies, 50), unit: 'ms' },
        { metric: 'publish -> action performed p99 @1000/s', value: percentile(latencies, 99), unit: 'ms', target: '< 25' },
        ...flow.rows,
      ],
      notes: {
        automations: docs.length,
        backlog_events: BACKLOG,
        latency_samples: latencies.length,
        firings_recorded: Number(firingsRes.rows[0].n),
        cpus: (await import('node:os')).cpus().length,
        ...flow.notes,
      },
    };
  } finally {
    await resetNamespace(rt).catch(() => {});
    await rt.close();
  }
}
