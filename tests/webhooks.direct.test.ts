import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../core/log.ts';
import { Metrics } from '../infra/metrics.ts';
import { AddressGuard, DeliveryLog, WebhookSender } from '../modules/webhooks/index.ts';
import { DirectDeliveries, type DirectDeliveryOptions } from '../services/automations/direct-deliveries.ts';
import { WebhookDeliveryJobSchema } from '../schemas/jobs.ts';
import { createAutomation, emit, queue, waitOutcomes } from './support/automations.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { Receiver } from './support/receiver.ts';

/**
 * Direct deliveries (issue 12): the automations service makes a delivery's first attempt itself, right
 * after writing its row, with no queue hop; retries, busy or unhealthy hosts and the deliveries of a
 * process that died mid-attempt go through the queue and the webhook service.
 */

interface Row {
  status: string;
  attempt_count: number;
  claimed_until: Date | null;
}

describe('direct deliveries', () => {
  const fast = new Receiver();
  const slow = new Receiver();
  const flaky = new Receiver();
  let t: TestEngine;

  before(async () => {
    await Promise.all([fast.start(), slow.start(), flaky.start()]);
    t = await startTestEngine({ services: ['recorder', 'automations', 'webhooks', 'api'], config: { webhookAllowHosts: ['127.0.0.1'] } });
  });
  after(async () => {
    await t?.cleanup();
    await Promise.all([fast.stop(), slow.stop(), flaky.stop()]);
  });

  const row = async (id: string): Promise<Row | undefined> =>
    (await t.rt.pg.query<Row>('SELECT status, attempt_count, claimed_until FROM webhook_deliveries WHERE id = $1', [id])).rows[0];
  const deliveryOf = (f: { actions: { detail?: Record<string, unknown> }[] }, i = 0) => String(f.actions[i].detail?.delivery_id);

  it('sends the first attempt from the automations service: no job, the row and its attempt, the outcome event', async () => {
    const id = await createAutomation(t, { name: 'direct', trigger: { type: 'event', expect: ['direct.fast'] }, actions: [{ type: 'call-webhook', url: `${fast.url}/fast` }] });
    const [eventId] = await emit(t, [{ event: 'direct.fast', payload: { n: 1 } }]);
    await waitFor(() => fast.requestsTo('/fast').length === 1, { what: 'the webhook' });
    const [f] = await waitOutcomes(t, id);
    assert.equal(f.actions[0].status, 'executed');
    assert.equal(f.actions[0].detail?.forwarded_to, 'direct');
    const delivery = deliveryOf(f);
    const done = await waitFor(async () => {
      const r = await row(delivery);
      return r?.status === 'succeeded' ? r : null;
    }, { what: 'the delivery recorded as succeeded' });
    assert.equal(done.attempt_count, 1);
    assert.equal(done.claimed_until, null, 'a finished delivery holds no claim');
    const q = queue(t, t.rt.names.queues.webhookDeliveries);
    try {
      assert.equal(await q.getJob(f.actions[0].detail?.job_id as string), undefined, 'no job went through the queue');
    } finally {
      await q.close();
    }
    const outcome = await waitFor(async () => {
      const res = await t.api('POST', '/api/events/filter', { event: ['reflex.webhook.delivery.succeeded'] });
      return (res.body.items as { payload: { delivery_id: string }; related: { 'reflex.resource.id': string }[] }[]).find((e) => e.payload.delivery_id === delivery);
    }, { what: 'the outcome event' });
    assert.ok(outcome.related.some((r) => r['reflex.resource.id'] === `reflex.event.${eventId}`));
  });

  it('never waits for the receiver: a hung receiver holds neither the firing nor the next delivery', async () => {
    slow.respond({ status: 204, delayMs: 8000 });
    const slowId = await createAutomation(t, { name: 'slow', trigger: { type: 'event', expect: ['direct.slow'] }, actions: [{ type: 'call-webhook', url: `${slow.url}/slow`, timeout_seconds: 30 }] });
    const fastId = await createAutomation(t, { name: 'after-slow', trigger: { type: 'event', expect: ['direct.after'] }, actions: [{ type: 'call-webhook', url: `${fast.url}/after` }] });
    await emit(t, [{ event: 'direct.slow' }]);
    await waitFor(() => slow.requestsTo('/slow').length === 1, { what: 'the slow request in flight' });
    // The slow request is still unanswered (8 s): its firing is recorded, the next event's webhook arrives.
    const [f] = await waitOutcomes(t, slowId);
    assert.equal(f.actions[0].status, 'executed');
    await emit(t, [{ event: 'direct.after' }]);
    await waitFor(() => fast.requestsTo('/after').length === 1, { what: 'the next webhook while the slow one hangs', timeoutMs: 5000 });
    await waitOutcomes(t, fastId);
    const pending = await row(deliveryOf(f));
    assert.equal(pending?.status, 'pending', 'the slow delivery is still in flight');
    assert.ok(pending?.claimed_until && pending.claimed_until.getTime() > Date.now(), 'claimed by its attempt while in flight');
  });

  it('queues the retry of a failed direct attempt, and the next deliveries to that host, for the webhook service', async () => {
    flaky.respond({ status: 503 }, { status: 204 });
    const id = await createAutomation(t, {
      name: 'flaky',
      trigger: { type: 'event', expect: ['direct.flaky'] },
      actions: [{ type: 'call-webhook', url: `${flaky.url}/flaky`, retry: { attempts: 3, delay_seconds: 0.2 } }],
    });
    await emit(t, [{ event: 'direct.flaky', payload: { n: 1 } }]);
    const [first] = await waitOutcomes(t, id);
    assert.equal(first.actions[0].detail?.forwarded_to, 'direct');
    const delivery = deliveryOf(first);
    const done = await waitFor(async () => {
      const r = await row(delivery);
      return r?.status === 'succeeded' ? r : null;
    }, { what: 'the retry to succeed' });
    assert.equal(done.attempt_count, 2);
    assert.equal(done.claimed_until, null);
    assert.equal(flaky.requestsTo('/flaky').length, 2);
    const attempts = await t.rt.pg.query<{ attempt: number; outcome: string }>('SELECT attempt, outcome FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt', [delivery]);
    assert.deepEqual(attempts.rows.map((a) => [a.attempt, a.outcome]), [[1, 'retry'], [2, 'succeeded']]);
    // The host failed a direct attempt a moment ago: its next delivery goes through the queue.
    await emit(t, [{ event: 'direct.flaky', payload: { n: 2 } }]);
    const [second] = await waitOutcomes(t, id, 2);
    assert.equal(second.actions[0].detail?.forwarded_to, t.rt.names.queues.webhookDeliveries);
    await waitFor(() => flaky.requestsTo('/flaky').length === 3, { what: 'the queued delivery sent' });
  });

  it('queues a delivery whose claim ran out (its process died mid-attempt) and sends it once', async () => {
    const id = randomUUID();
    const job = WebhookDeliveryJobSchema.parse({ delivery_id: id, idempotency_key: id, url: `${fast.url}/orphan`, body: '{"orphan":true}' });
    // What a process that died right after writing the row leaves: a claimed, pending delivery.
    const state = await new DeliveryLog(t.rt.pg, createLogger({ level: 'silent' })).begin(job, { claimSeconds: 0.05 });
    assert.equal(state.fresh, true);
    await waitFor(() => fast.requestsTo('/orphan').length === 1, { what: 'the sweeper to queue the orphaned delivery', timeoutMs: 10_000 });
    const done = await waitFor(async () => {
      const r = await row(id);
      return r?.status === 'succeeded' ? r : null;
    }, { what: 'the orphan recorded' });
    assert.equal(done.claimed_until, null);
    assert.equal(done.attempt_count, 1);
    assert.equal(fast.requestsTo('/orphan')[0].body, '{"orphan":true}');
    assert.equal(fast.requestsTo('/orphan').length, 1, 'sent once');
  });
});

/**
 * Overload and hung hosts (issue 12): past its bound of deliveries a process waits for room instead of
 * queueing (the queue's path costs more CPU, and falling to it made an overloaded machine fall further
 * behind), and a host that stops answering has its waiting deliveries queued within about a second.
 */
describe('direct deliveries: room and hung hosts', () => {
  const log = createLogger({ level: 'silent' });
  let t: TestEngine;
  let gate: Server;
  let gateUrl = '';
  const held: ServerResponse[] = [];
  const open: DirectDeliveries[] = [];

  before(async () => {
    gate = createServer((req, res) => {
      req.resume();
      req.on('end', () => held.push(res));
    });
    await new Promise<void>((resolve) => gate.listen(0, '127.0.0.1', resolve));
    gateUrl = `http://127.0.0.1:${(gate.address() as AddressInfo).port}`;
    t = await startTestEngine({ services: ['webhooks'], config: { webhookAllowHosts: ['127.0.0.1'] } });
  });
  after(async () => {
    release(held.length);
    await Promise.all(open.map((d) => d.stop(1000)));
    // Whatever the webhook service still has at the receiver ends now, so that it stops at once.
    gate.closeAllConnections();
    await t?.cleanup();
    await new Promise<void>((resolve) => gate.close(() => resolve()));
  });

  const release = (n: number) => {
    for (const res of held.splice(0, n)) res.writeHead(204).end();
  };
  const direct = (options: Omit<DirectDeliveryOptions, 'metrics'>) => {
    const metrics = new Metrics();
    const d = new DirectDeliveries(new WebhookSender(t.rt.bus, new AddressGuard(['127.0.0.1']), new DeliveryLog(t.rt.pg, log), log), t.modules.deliveries, log, { ...options, metrics });
    open.push(d);
    const ways = async () => Object.fromEntries((await metrics.directDeliveries.get()).values.map((v) => [String(v.labels.way), v.value]));
    return { d, ways };
  };
  const job = (path: string) => {
    const id = randomUUID();
    return WebhookDeliveryJobSchema.parse({ delivery_id: id, idempotency_key: id, url: `${gateUrl}${path}`, body: '{}' });
  };
  const status = async (id: string) => (await t.rt.pg.query<{ status: string }>('SELECT status FROM webhook_deliveries WHERE id = $1', [id])).rows[0]?.status;

  it('waits for room once it holds its bound of deliveries, and lets the next one in when one ends', async () => {
    const { d, ways } = direct({ hostConcurrency: 2, maxInFlight: 2, maxWaitMs: 20_000 });
    const jobs = [job('/room/1'), job('/room/2'), job('/room/3')];
    assert.equal(await d.deliver(jobs[0]), 'direct');
    assert.equal(await d.deliver(jobs[1]), 'direct');
    let third: string | undefined;
    const waiting = d.deliver(jobs[2]).then((way) => (third = way));
    await waitFor(() => held.length === 2, { what: 'both requests at the receiver' });
    assert.equal(await status(jobs[2].delivery_id), undefined, 'the third waits at the door: not even its row is written');
    assert.equal(third, undefined);
    release(1);
    await waiting;
    assert.equal(third, 'direct', 'let in once one attempt ended, not queued');
    await waitFor(() => held.length === 2, { what: 'the third request' });
    release(2);
    for (const j of jobs) await waitFor(async () => (await status(j.delivery_id)) === 'succeeded', { what: `delivery ${j.url} recorded` });
    assert.deepEqual(await ways(), { direct: 3 });
  });

  it('queues a delivery that waited its longest for room (the webhook service sends it)', async () => {
    const { d, ways } = direct({ hostConcurrency: 2, maxInFlight: 1, maxWaitMs: 300 });
    const first = job('/busy/1');
    const second = job('/busy/2');
    assert.equal(await d.deliver(first), 'direct');
    await waitFor(() => held.length === 1, { what: 'the first request at the receiver' });
    assert.equal(await d.deliver(second), 'queued');
    await waitFor(() => held.length === 2, { what: 'the queued delivery sent by the webhook service' });
    release(2);
    for (const j of [first, second]) await waitFor(async () => (await status(j.delivery_id)) === 'succeeded', { what: `delivery ${j.url} recorded` });
    assert.deepEqual(await ways(), { direct: 1, busy: 1 });
  });

  it('queues the deliveries waiting for a host that stopped answering, within about a second, and the next ones too', async () => {
    const { d, ways } = direct({ hostConcurrency: 1, maxInFlight: 10, maxWaitMs: 20_000 });
    const started = Date.now();
    const jobs = [job('/hung/1'), job('/hung/2'), job('/hung/3')];
    for (const j of jobs) assert.equal(await d.deliver(j), 'direct');
    await waitFor(async () => (await ways()).stuck === 2, { what: 'the two waiting deliveries queued', timeoutMs: 10_000 });
    assert.ok(Date.now() - started < 10_000, 'well before their wait for a slot ran out (20 s)');
    assert.equal(await d.deliver(job('/hung/4')), 'queued', 'the host is cooling down: the next one is queued at once');
    assert.deepEqual(await ways(), { direct: 3, stuck: 2, cooling: 1 });
    // The queued ones reach the receiver through the webhook service (which holds its own slots).
    await waitFor(() => held.length >= 2, { what: 'the webhook service sending the queued deliveries' });
    release(held.length);
  });
});
