import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { systemEvent } from '../core/events.ts';
import { requireDeployment, runKeys } from '../modules/runs/index.ts';
import { LiveHub } from '../services/api/live-hub.ts';
import { createAutomation } from './support/automations.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { PrivateNats, skipWithout } from './support/private-services.ts';
import { Receiver } from './support/receiver.ts';

/**
 * The dashboard's read endpoints as a script sees them, beyond their validation (dashboard.api): the
 * headers an attempt shows are the ones the receiver got, a receiver that is down makes its automation
 * "failing", the live stream sends only the kinds asked for, runs are listed in either order, every cause
 * a run can have, and worker presence.
 */

const SECRET = `whsec_${Buffer.from('dashboard-reads-secret-0123456789').toString('base64')}`;

/** Reads a /api/live stream in the background: every `change` frame's topics, in order. */
async function openLive(t: TestEngine, kinds: string): Promise<{ topics: string[][]; close: () => Promise<void> }> {
  const controller = new AbortController();
  const res = await fetch(`${t.url}/api/live?kinds=${kinds}`, { signal: controller.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const topics: string[][] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let connected!: () => void;
  const ready = new Promise<void>((r) => (connected = r));
  const reading = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (frame.includes(': connected')) connected();
          const data = /^event: change\ndata: (.*)$/m.exec(frame);
          if (data) topics.push((JSON.parse(data[1]) as { topics: string[] }).topics);
        }
      }
    } catch {
      /* aborted */
    }
  })();
  await ready;
  return {
    topics,
    close: async () => {
      controller.abort();
      await reading;
    },
  };
}

describe('dashboard reads', () => {
  let t: TestEngine;
  const receiver = new Receiver();

  before(async () => {
    await receiver.start();
    t = await startTestEngine({ services: ['api', 'recorder', 'automations', 'webhooks', 'outbox'], config: { webhookAllowHosts: ['127.0.0.1'] } });
  });
  after(async () => {
    await t?.cleanup();
    await receiver.stop();
  });

  test("an attempt's request headers are the ones the receiver got, the signature masked", async () => {
    receiver.respond({ status: 204 });
    await createAutomation(t, {
      name: 'signed-hook',
      trigger: { type: 'event', expect: ['signed.thing'] },
      actions: [{ type: 'call-webhook', url: `${receiver.url}/signed`, secret: SECRET, headers: { 'X-Team': 'ops' } }],
    });
    assert.equal((await t.api('POST', '/api/events', { event: 'signed.thing', resource: { 'reflex.resource.id': 's-1' } })).status, 202);
    const sent = await waitFor(() => receiver.requestsTo('/signed')[0], { what: 'the signed request' });
    const delivery = await waitFor(async () => (await t.api('GET', '/api/webhook-deliveries?status=succeeded')).body.items[0], { what: 'the delivery' });
    const attempts = (await t.api('GET', `/api/webhook-deliveries/${delivery.id}/attempts`)).body.items;
    assert.equal(attempts.length, 1);
    const shown: Record<string, string> = attempts[0].request_headers;
    for (const name of ['user-agent', 'content-type', 'x-team', 'webhook-id', 'webhook-timestamp', 'webhook-signature']) assert.ok(name in shown, `${name} shown`);
    for (const [name, value] of Object.entries(shown)) {
      if (name === 'webhook-signature') continue;
      assert.equal(sent.headers[name], value, `${name} as sent`);
    }
    assert.equal(shown['webhook-signature'], 'v1,********');
    assert.match(String(sent.headers['webhook-signature']), /^v1,[A-Za-z0-9+/=]{20,}$/);
    assert.ok(!JSON.stringify(attempts).includes(SECRET.slice(6)), 'the secret is nowhere in the answer');
  });

  test('an automation whose deliveries fail is failing, though its actions succeeded', async () => {
    receiver.respond({ status: 503, body: 'down' });
    const id = await createAutomation(t, {
      name: 'hook-to-a-down-receiver',
      trigger: { type: 'event', expect: ['down.thing'] },
      actions: [{ type: 'call-webhook', url: `${receiver.url}/down`, retry: { attempts: 1, delay_seconds: 0 } }],
    });
    assert.equal((await t.api('POST', '/api/events', { event: 'down.thing', resource: { 'reflex.resource.id': 'd-1' } })).status, 202);
    await waitFor(async () => (await t.api('GET', `/api/webhook-deliveries?status=failed&automation_id=${id}`)).body.items.length === 1, { what: 'the failed delivery' });
    const summary = (await t.api('GET', '/api/automations/summary')).body.items.find((a: { id: string }) => a.id === id);
    assert.equal(summary.firings, 1);
    assert.equal(summary.failed_actions, 0, 'the action queued its delivery: it succeeded');
    assert.equal(summary.failed_deliveries, 1);
    const overview = (await t.api('GET', '/api/overview')).body;
    const failing = overview.failing_automations.find((a: { id: string }) => a.id === id);
    assert.deepEqual({ failed_actions: failing?.failed_actions, failed_deliveries: failing?.failed_deliveries }, { failed_actions: 0, failed_deliveries: 1 });
    assert.ok(overview.failing_receivers.some((r: { host: string; failed: number }) => r.host === new URL(receiver.url).host && r.failed >= 1));
    const signed = (await t.api('GET', '/api/automations/summary')).body.items.find((a: { name: string }) => a.name === 'signed-hook');
    assert.equal(signed.failed_deliveries, 0);
  });

  test('the live stream sends the kinds asked for: business events only to a client that wants `events`', async () => {
    const runsOnly = await openLive(t, 'flow-runs,flow-run');
    const everything = await openLive(t, 'flow-runs,flow-run,events');
    try {
      assert.equal((await t.api('POST', '/api/events', { event: 'business.tick', resource: { 'reflex.resource.id': 'b-1' } })).status, 202);
      await waitFor(() => everything.topics.some((x) => x.includes('events')), { what: 'the events topic' });
      const d = await t.api('POST', '/api/deployments', { name: 'live-runs', flow: 'noop' });
      const run = await t.api('POST', `/api/deployments/${d.body.id}/runs`, {});
      assert.equal(run.status, 201);
      await waitFor(() => runsOnly.topics.some((x) => x.includes(`flow-run:${run.body.id}`)), { what: "the run's topic" });
      await waitFor(() => everything.topics.some((x) => x.includes(`flow-run:${run.body.id}`)), { what: "the run's topic, with events" });
      assert.ok(runsOnly.topics.every((x) => x.every((topic) => topic === 'flow-runs' || topic.startsWith('flow-run:'))), JSON.stringify(runsOnly.topics));
    } finally {
      await runsOnly.close();
      await everything.close();
    }
  });

  test('the live hub never hands a business event to listeners that do not want `events`', async () => {
    const hub = new LiveHub({ nats: t.rt.nats, names: t.rt.names, bus: t.rt.bus });
    const quiet: string[][] = [];
    const loud: string[][] = [];
    const stopQuiet = await hub.listen((x) => void quiet.push([...x]), { events: false });
    const stopLoud = await hub.listen((x) => void loud.push([...x]), { events: true });
    await t.rt.bus.publish(systemEvent('order.placed', { 'reflex.resource.id': 'o-1' }));
    await waitFor(() => loud.length === 1, { what: 'the business event, for the listener that wants it' });
    assert.deepEqual(loud, [['events']]);
    stopLoud();
    // Published after the business event on the same connection: once it arrived, the other would have.
    await t.rt.bus.publish(systemEvent('order.placed', { 'reflex.resource.id': 'o-2' }));
    await t.rt.bus.publish(systemEvent('reflex.flow-run.Running', { 'reflex.resource.id': 'reflex.flow-run.r9' }));
    await waitFor(() => quiet.length > 0, { what: 'the engine event' });
    assert.deepEqual(quiet, [['events', 'flow-runs', 'deployments', 'flow-run:r9']], 'the engine event only, decoded into its topics');
    stopQuiet();
  });

  test('runs are listed newest or oldest first, the cursor following the order', async () => {
    const d = await t.api('POST', '/api/deployments', { name: 'ordered', flow: 'noop' });
    const later = new Date(Date.now() + 3600e3).toISOString();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await t.api('POST', `/api/deployments/${d.body.id}/runs`, { scheduled_time: later })).body.id);
    const page = async (order: string, cursor?: string) =>
      (await t.api('GET', `/api/flow-runs/search?deployment_id=${d.body.id}&order=${order}&limit=2${cursor ? `&cursor=${cursor}` : ''}`)).body;
    const asc1 = await page('asc');
    const asc2 = await page('asc', asc1.next_cursor);
    assert.deepEqual([...asc1.items, ...asc2.items].map((r: { id: string }) => r.id), ids);
    assert.equal(asc2.next_cursor, null);
    const desc1 = await page('desc');
    const desc2 = await page('desc', desc1.next_cursor);
    assert.deepEqual([...desc1.items, ...desc2.items].map((r: { id: string }) => r.id), [...ids].reverse());
    const bad = await t.api('GET', '/api/flow-runs/search?order=sideways');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.issues[0].path, 'order');
  });

  test('every cause a run can have', async () => {
    const runs = t.modules.runs;
    const direct = await runs.store.createFlowRun({ flow_name: 'script-flow' });
    assert.equal((await t.api('GET', `/api/flow-runs/${direct.id}/cause`)).body.kind, 'direct');
    const child = await runs.store.createFlowRun({ flow_name: 'child-flow', parent_flow_run_id: direct.id });
    const sub = (await t.api('GET', `/api/flow-runs/${child.id}/cause`)).body;
    assert.deepEqual({ kind: sub.kind, parent: sub.parent_flow_run }, { kind: 'subflow', parent: { id: direct.id, name: direct.name } });
    const d = await t.api('POST', '/api/deployments', { name: 'hourly', flow: 'noop' });
    const deployment = await requireDeployment(t.rt.pg, d.body.id);
    const at = new Date(Date.now() + 3600e3);
    const { run } = await runs.deploymentRuns.create(deployment, { source: 'schedule', raw_idempotency_key: runKeys.schedule(deployment.id, at), scheduled_time: at });
    const scheduled = (await t.api('GET', `/api/flow-runs/${run.id}/cause`)).body;
    assert.deepEqual({ kind: scheduled.kind, scheduled_for: scheduled.scheduled_for, automation: scheduled.automation }, { kind: 'schedule', scheduled_for: at.toISOString(), automation: null });
    // An automation id that is not a UUID (a forged command) is not recorded as a cause.
    const forged = await runs.deploymentRuns.create(deployment, { triggered_by: { automation_id: "x'; DROP TABLE flow_runs; --", firing_id: null, event_id: null } });
    assert.equal((await t.api('GET', `/api/flow-runs/${forged.run.id}/cause`)).body.kind, 'manual');
  });
});

describe('worker presence', () => {
  let t: TestEngine;
  const hostname = process.env.HOSTNAME;
  before(async () => {
    process.env.HOSTNAME = 'worker-presence-test';
    t = await startTestEngine({ services: ['api', 'worker'], config: { flowsModule: 'tests/support/dashboard-flows.ts', workerHeartbeatSeconds: 0.5 } });
  });
  after(async () => {
    await t?.cleanup();
    if (hostname === undefined) delete process.env.HOSTNAME;
    else process.env.HOSTNAME = hostname;
  });

  test('a worker shows online in its pool while it runs, and is gone once it stops', async () => {
    const status = async () => (await t.api('GET', '/api/work-pool-status')).body.items.find((p: { name: string }) => p.name === 'default');
    const pool = await waitFor(async () => ((await status())?.workers.length ? status() : null), { what: 'the worker' });
    assert.equal(pool.workers.length, 1);
    const w = pool.workers[0];
    assert.deepEqual({ online: w.online, hostname: w.hostname, pid: w.pid, pool: w.pool }, { online: true, hostname: 'worker-presence-test', pid: process.pid, pool: 'default' });
    const first = w.last_heartbeat;
    await waitFor(async () => (await status()).workers[0].last_heartbeat !== first, { what: 'a later heartbeat' });
    await t.services.find((s) => s.name === 'worker')!.stop();
    assert.deepEqual((await status()).workers, [], 'a clean stop removes the entry');
  });
});

describe('REFLEX_DASHBOARD=false', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['api'], config: { dashboard: false } });
  });
  after(async () => t?.cleanup());

  test('serves the API without the dashboard', async () => {
    assert.equal((await fetch(`${t.url}/`)).status, 404);
    assert.equal((await fetch(`${t.url}/runs`)).status, 404);
    assert.equal((await t.api('GET', '/api/flow-runs/search')).status, 200);
  });
});

describe('the live stream while NATS is down', { skip: skipWithout.nats }, () => {
  let nats: PrivateNats | undefined;
  let t: TestEngine | undefined;
  before(async () => {
    nats = await PrivateNats.create();
    await nats.start();
    t = await startTestEngine({ services: ['api'], config: { natsUrl: nats.url } });
  });
  after(async () => {
    try {
      if (nats && !nats.running) await nats.start().catch(() => {});
      await t?.cleanup();
    } finally {
      await nats?.destroy();
    }
  });

  test('is a 503 naming NATS (the dashboard polls meanwhile), and streams again once NATS is back', async () => {
    const engine = t as TestEngine;
    const server = nats as PrivateNats;
    await server.kill();
    const refused = await waitFor(async () => {
      const res = await fetch(`${engine.url}/api/live?kinds=flow-runs`, { signal: AbortSignal.timeout(5000) });
      return res.status === 503 ? res : (await res.body?.cancel(), null);
    }, { timeoutMs: 15_000, what: 'a 503 from the live stream' });
    assert.equal(refused.headers.get('retry-after'), '1');
    const body = (await refused.json()) as { error: { code: string; dependency: string } };
    assert.deepEqual({ code: body.error.code, dependency: body.error.dependency }, { code: 'dependency_unavailable', dependency: 'NATS' });
    await server.start();
    const live = await waitFor(async () => {
      try {
        return await openLive(engine, 'flow-runs');
      } catch {
        return null;
      }
    }, { timeoutMs: 15_000, what: 'the stream to open again' });
    await live.close();
  });
});
