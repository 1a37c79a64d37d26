import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAutomation, emit } from './support/automations.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { freePort } from './support/net.ts';
import { PrivateRedis, skipWithout } from './support/private-services.ts';
import { Receiver } from './support/receiver.ts';

/** One sample of the Prometheus text format: name, labels and value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the sample with exactly these labels among the ones given (undefined when absent). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels);
  return samples.find((s) => s.name === name && want.every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === want.length)?.value;
}

async function scrape(url: string): Promise<{ status: number; type: string; samples: Sample[] }> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', samples: res.status === 200 ? parse(text) : [] };
}

describe('GET /metrics after a known workload', () => {
  let t: TestEngine;
  const ok = new Receiver();
  const gone = new Receiver().respond({ status: 410 });

  before(async () => {
    await Promise.all([ok.start(), gone.start()]);
    t = await startTestEngine({ services: ['recorder', 'automations', 'webhooks', 'api'], config: { webhookAllowHosts: ['127.0.0.1'] } });
  });
  after(async () => {
    await Promise.all([ok.stop(), gone.stop()]);
    await t?.cleanup();
  });

  it('counts 10 events, 7 firings and their actions, 5 delivered and 2 failed webhooks exactly', async () => {
    await createAutomation(t, { name: 'placed', trigger: { type: 'event', expect: ['order.placed'] }, actions: [{ type: 'call-webhook', url: `${ok.url}/ok` }] });
    await createAutomation(t, { name: 'refused', trigger: { type: 'event', expect: ['order.refused'] }, actions: [{ type: 'call-webhook', url: `${gone.url}/gone` }] });
    const placed = Array.from({ length: 5 }, (_, i) => ({ event: 'order.placed', payload: { n: i } }));
    const refused = Array.from({ length: 2 }, (_, i) => ({ event: 'order.refused', payload: { n: i } }));
    const noise = Array.from({ length: 3 }, (_, i) => ({ event: 'noise.other', payload: { n: i } }));
    await emit(t, [...placed, ...refused, ...noise]);

    await waitFor(() => ok.requestsTo('/ok').length === 5 && gone.requestsTo('/gone').length === 2, { what: '7 webhook requests' });
    const expected = {
      delivered: 5,
      failed: 2,
    };
    // The counters move after the attempt is logged; wait for the last of them rather than race it.
    const first = await waitFor(async () => {
      const s = await scrape(t.url);
      return value(s.samples, 'reflex_webhook_delivery_attempts_total', { status: 'succeeded' }) === expected.delivered &&
        value(s.samples, 'reflex_webhook_delivery_attempts_total', { status: 'failed' }) === expected.failed
        ? s
        : null;
    }, { what: 'delivery counters' });
    assert.equal(first.status, 200);
    assert.match(first.type, /^text\/plain; version=0\.0\.4/);

    const s = first.samples;
    assert.equal(value(s, 'reflex_events_ingested_total', { source: 'api' }), 10);
    assert.equal(value(s, 'reflex_automation_evaluations_total', { kind: 'event' }), 7);
    const firings = s.filter((x) => x.name === 'reflex_automation_firings_total').reduce((n, x) => n + x.value, 0);
    assert.equal(firings, 7);
    assert.equal(value(s, 'reflex_automation_actions_total', { type: 'call-webhook', outcome: 'executed' }), 7);
    assert.equal(value(s, 'reflex_webhook_delivery_duration_seconds_count', { status: 'succeeded' }), 5);
    assert.equal(value(s, 'reflex_webhook_delivery_duration_seconds_count', { status: 'failed' }), 2);
    assert.equal(value(s, 'reflex_webhook_delivery_attempts_total', { status: 'retrying' }), undefined);

    // Every event of the stream recorded, the system events included: the counter equals the table.
    const recorded = await waitFor(async () => {
      const [{ samples }, table] = await Promise.all([scrape(t.url), t.rt.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM events')]);
      const n = value(samples, 'reflex_events_recorded_total');
      // 10 ingested + 7 firing events + 7 action events + 7 delivery outcomes.
      return n === 31 && table.rows[0].n === 31 ? samples : null;
    }, { what: '31 events recorded' });

    // Gauges read on scrape: both durable consumers caught up, queues empty, nothing backed up.
    for (const consumer of [t.rt.names.consumers.recorder, t.rt.names.consumers.automations]) {
      assert.equal(value(recorded, 'reflex_jetstream_consumer_pending', { consumer }), 0, consumer);
      assert.equal(value(recorded, 'reflex_jetstream_consumer_ack_pending', { consumer }), 0, consumer);
    }
    for (const state of ['waiting', 'active', 'delayed', 'failed']) {
      assert.equal(value(recorded, 'reflex_queue_jobs', { queue: 'webhook-deliveries', state }), 0, state);
      assert.equal(value(recorded, 'reflex_queue_jobs', { queue: 'automation-actions', state }), 0, state);
    }
    assert.equal(value(recorded, 'reflex_dead_letters'), 0);
    assert.equal(value(recorded, 'reflex_outbox_backlog'), 0);
    for (const source of ['nats', 'redis', 'postgres']) assert.equal(value(recorded, 'reflex_metrics_source_up', { source }), 1, source);
  });

  it('is behind the API key when one is set', async () => {
    const locked = await startTestEngine({ services: ['api'], config: { apiKey: 'k-metrics' } });
    try {
      assert.equal((await fetch(`${locked.url}/metrics`)).status, 401);
      const res = await fetch(`${locked.url}/metrics`, { headers: { authorization: 'Bearer k-metrics' } });
      assert.equal(res.status, 200);
      assert.ok((await res.text()).includes('reflex_events_ingested_total'));
    } finally {
      await locked.cleanup();
    }
  });
});

describe('flow-run metrics', () => {
  it('count the jobs, time the runs and show the slots and the runs by state', async () => {
    const t = await startTestEngine({ services: ['worker', 'api'], config: { flowsModule: 'tests/support/test-flows.ts', workerConcurrency: 3, workerHeartbeatSeconds: 1 } });
    try {
      const d = await t.api('POST', '/api/deployments', { name: 'metered', flow: 'noop' });
      assert.equal(d.status, 201, JSON.stringify(d.body));
      for (let i = 0; i < 4; i++) assert.equal((await t.api('POST', `/api/deployments/${d.body.id}/runs`, { parameters: { value: i } })).status, 201);
      const s = await waitFor(async () => {
        const { samples } = await scrape(t.url);
        // A job stays active a moment after its processor returned (BullMQ then moves it): wait for that too.
        const done =
          value(samples, 'reflex_flow_run_jobs_total', { pool: 'default', outcome: 'completed' }) === 4 &&
          value(samples, 'reflex_flow_runs', { state: 'COMPLETED' }) === 4 &&
          value(samples, 'reflex_queue_jobs', { queue: 'work-pool-default', state: 'active' }) === 0;
        return done ? samples : null;
      }, { what: '4 completed runs in the metrics' });
      assert.equal(value(s, 'reflex_flow_run_duration_seconds_count', { pool: 'default', outcome: 'completed' }), 4);
      assert.equal(value(s, 'reflex_worker_slots', { pool: 'default' }), 3);
      assert.equal(value(s, 'reflex_worker_slots_in_use', { pool: 'default' }), 0);
      assert.equal(value(s, 'reflex_flow_runs', { state: 'RUNNING' }), undefined);
      assert.equal(value(s, 'reflex_queue_jobs', { queue: 'work-pool-default', state: 'waiting' }), 0);
    } finally {
      await t.cleanup();
    }
  });
});

describe('metrics of a process without the API', () => {
  it('are served on REFLEX_METRICS_PORT and counted there', async () => {
    const port = await freePort();
    const api = await startTestEngine({ services: ['api'] });
    const recorder = await startTestEngine({ services: ['recorder'], namespace: api.config.namespace, config: { metricsPort: port } });
    try {
      await emit(api, [{ event: 'a.b' }, { event: 'a.c' }]);
      const url = `http://127.0.0.1:${port}`;
      await waitFor(async () => value((await scrape(url)).samples, 'reflex_events_recorded_total') === 2, { what: '2 events recorded by the recorder process' });
      assert.equal((await fetch(`${url}/other`)).status, 404);
      // The API process recorded nothing: each process counts its own work.
      assert.equal(value((await scrape(api.url)).samples, 'reflex_events_recorded_total'), 0);
    } finally {
      await recorder.stop();
      await api.cleanup();
    }
    // Stopped with the engine.
    await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`));
  });
});

describe('a scrape while Redis is down', { skip: skipWithout.redis }, () => {
  let redis: PrivateRedis;
  let t: TestEngine;
  before(async () => {
    redis = await PrivateRedis.create();
    await redis.start();
    t = await startTestEngine({ services: ['api'], config: { redisUrl: redis.url, metricsTimeoutMs: 300 } });
  });
  after(async () => {
    // Back up, so the namespace's keys, tables and stream are deleted as in every test.
    if (redis && !redis.running) await redis.start();
    await t?.cleanup();
    await redis?.destroy();
  });

  it('answers at once with the Redis source down and its gauges left out, the others still read', async () => {
    assert.equal(value((await scrape(t.url)).samples, 'reflex_metrics_source_up', { source: 'redis' }), 1);
    await redis.kill();
    const started = performance.now();
    const { status, samples } = await scrape(t.url);
    const tookMs = performance.now() - started;
    assert.equal(status, 200);
    assert.ok(tookMs < 3000, `scrape took ${Math.round(tookMs)} ms`);
    assert.equal(value(samples, 'reflex_metrics_source_up', { source: 'redis' }), 0);
    assert.equal(value(samples, 'reflex_metrics_source_up', { source: 'postgres' }), 1);
    assert.equal(value(samples, 'reflex_metrics_source_up', { source: 'nats' }), 1);
    assert.equal(samples.filter((x) => x.name === 'reflex_queue_jobs').length, 0);
  });
});
