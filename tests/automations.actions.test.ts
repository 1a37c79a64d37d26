import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createAutomation, emit, firings, queue, settle, waitFirings, waitLoaded, waitOutcomes } from './support/automations.ts';
import type { Automation } from '../schemas/automation.ts';
import { deterministicUuid } from '../core/ids.ts';
import type { ActionDeps, Firing } from '../modules/automations/index.ts';
import { dispatchFirings, type DispatchDeps } from '../services/automations/dispatch.ts';
import { liveActionDeps } from '../services/automations/live-actions.ts';
import { RedisStateStore } from '../modules/automations/redis-state-store.ts';
import { recordFirings } from '../modules/automations/repository.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

// Actions: rendered with Liquid, handed on as jobs (webhook deliveries), executed as flow-run commands or
// performed here (emit-event, pause/resume-automation), with every outcome recorded on the firing.

let t: TestEngine;
before(async () => {
  // Deliveries queued, as they are with REFLEX_WEBHOOK_DIRECT=false: these tests read the jobs
  // (tests/webhooks.direct.test.ts covers the direct first attempts).
  t = await startTestEngine({ services: ['recorder', 'automations', 'api'], config: { webhookDirect: false } });
});
after(async () => {
  await t?.cleanup();
});

describe('webhook and flow-run actions', () => {
  it('call-webhook enqueues a rendered WebhookDeliveryJob with the idempotency key as job id', async () => {
    const id = await createAutomation(t, {
      name: 'hook',
      trigger: { type: 'event', expect: ['hook.fire'] },
      actions: [
        {
          type: 'call-webhook',
          url: 'http://127.0.0.1:9999/hook/{{ event.payload.kind }}',
          headers: { 'x-automation': '{{ automation.name }}' },
          body: '{"kind": {{ event.payload.kind | json }}, "count": {{ trigger.count }}}',
          secret: 'whsec_dGVzdHNlY3JldA==',
        },
        { type: 'call-webhook', url: 'http://127.0.0.1:9999/raw', format: 'cloudevent' },
      ],
    });
    const [eventId] = await emit(t, [{ event: 'hook.fire', payload: { kind: 'alert' } }]);
    const [f] = await waitOutcomes(t, id);
    assert.deepEqual(f.actions.map((a) => a.status), ['executed', 'executed']);
    const q = queue(t, t.rt.names.queues.webhookDeliveries);
    try {
      const job = await q.getJob(`${f.id}-0`);
      assert.ok(job, 'delivery job enqueued');
      assert.equal(job.data.idempotency_key, `${f.id}-0`);
      assert.equal(job.data.url, 'http://127.0.0.1:9999/hook/alert');
      assert.equal(job.data.headers['x-automation'], 'hook');
      assert.equal(job.data.body, '{"kind": "alert", "count": 1}');
      assert.equal(job.data.secret, 'whsec_dGVzdHNlY3JldA==');
      assert.equal(job.data.event_id, eventId);
      assert.equal(job.data.firing_id, f.id);
      const raw = await q.getJob(`${f.id}-1`);
      assert.equal(JSON.parse(raw!.data.body).id, eventId);
      assert.equal(raw!.data.format, 'cloudevent');
      // The secret never shows in the recorded outcome.
      assert.equal(JSON.stringify(f.actions).includes('whsec_'), false);
    } finally {
      await q.close();
    }
  });

  it('run-deployment renders parameters (a lone {{ expression }} keeps its type) and starts a run of the deployment', async () => {
    const d = await t.api('POST', '/api/deployments', { name: 'daily', flow: 'etl', work_pool: 'actions-test' });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    const id = await createAutomation(t, {
      name: 'run-etl',
      trigger: { type: 'event', expect: ['etl.requested'] },
      actions: [{ type: 'run-deployment', deployment_name: 'etl/daily', parameters: { n: '{{ event.payload.n }}', label: 'n={{ event.payload.n }}', fixed: true } }],
    });
    await emit(t, [{ event: 'etl.requested', payload: { n: 5 } }]);
    const [f] = await waitOutcomes(t, id);
    assert.equal(f.actions[0].status, 'executed', JSON.stringify(f.actions[0]));
    const runId = (f.actions[0].detail as { result: { flow_run_id: string } }).result.flow_run_id;
    const run = await t.api('GET', `/api/flow-runs/${runId}`);
    assert.equal(run.status, 200);
    assert.deepEqual(run.body.parameters, { n: 5, label: 'n=5', fixed: true });
    assert.equal(run.body.deployment_id, d.body.id);
    assert.equal(run.body.state.type, 'SCHEDULED');
  });

  it('a refused flow-run command is a recorded failure with the reason', async () => {
    const id = await createAutomation(t, { name: 'run-missing', trigger: { type: 'event', expect: ['etl.missing'] }, actions: [{ type: 'run-deployment', deployment_name: 'etl/nope' }] });
    await emit(t, [{ event: 'etl.missing' }]);
    const [f] = await waitOutcomes(t, id);
    assert.equal(f.actions[0].status, 'failed');
    assert.match(f.actions[0].reason ?? '', /deployment "etl\/nope" does not exist/);
  });

  it('cancel-flow-run targets the flow run the event is about; without one it fails with a reason', async () => {
    const d = await t.api('POST', '/api/deployments', { name: 'cancellable', flow: 'etl', work_pool: 'actions-test' });
    const run = await t.api('POST', `/api/deployments/${d.body.id}/runs`, {});
    assert.equal(run.status, 201, JSON.stringify(run.body));
    const id = await createAutomation(t, { name: 'cancel', trigger: { type: 'event', expect: ['run.stuck'] }, actions: [{ type: 'cancel-flow-run' }] });
    await emit(t, [{ event: 'run.stuck', resource: { 'reflex.resource.id': `reflex.flow-run.${run.body.id}` } }, { event: 'run.stuck' }]);
    const fs = await waitOutcomes(t, id, 2);
    const ok = fs.find((f) => f.actions[0].status === 'executed');
    const failed = fs.find((f) => f.actions[0].status === 'failed');
    assert.ok(ok && failed, JSON.stringify(fs.map((f) => f.actions)));
    assert.match(failed.actions[0].reason ?? '', /no flow run could be inferred/);
    assert.equal((await t.api('GET', `/api/flow-runs/${run.body.id}`)).body.state.type, 'CANCELLED');
  });
});

describe('performed actions', () => {
  it('templates see the flow run the event is about as flow_run', async () => {
    const d = await t.api('POST', '/api/deployments', { name: 'templated', flow: 'etl', work_pool: 'actions-test', parameters: { day: 'mon' } });
    const run = await t.api('POST', `/api/deployments/${d.body.id}/runs`, {});
    assert.equal(run.status, 201, JSON.stringify(run.body));
    const id = await createAutomation(t, {
      name: 'about-run',
      trigger: { type: 'event', expect: ['run.noted'] },
      actions: [{ type: 'emit-event', event: { event: 'run.echo', resource: { 'reflex.resource.id': 'echo.{{ flow_run.flow_name }}' }, payload: { day: '{{ flow_run.parameters.day }}' } } }],
    });
    await emit(t, [{ event: 'run.noted', resource: { 'reflex.resource.id': `reflex.flow-run.${run.body.id}` } }]);
    const [f] = await waitOutcomes(t, id);
    const emitted = (f.actions[0].detail as { event: { resource: Record<string, string>; payload: Record<string, unknown> } }).event;
    assert.equal(emitted.resource['reflex.resource.id'], 'echo.etl');
    assert.equal(emitted.payload.day, 'mon');
  });

  it('a template error fails only that action, with the reason recorded; the service keeps going', async () => {
    const id = await createAutomation(t, {
      name: 'bad-template',
      trigger: { type: 'event', expect: ['tpl.x'] },
      actions: [
        { type: 'emit-event', event: { event: 'tpl.out', resource: { 'reflex.resource.id': '{% include event.payload.file %}' } } },
        { type: 'do-nothing' },
      ],
    });
    await emit(t, [{ event: 'tpl.x', payload: { file: '/etc/passwd' } }]);
    const [f] = await waitOutcomes(t, id);
    assert.equal(f.actions[0].status, 'failed');
    assert.match(f.actions[0].reason ?? '', /template error: .*Failed to lookup/);
    assert.equal(f.actions[1].status, 'executed');
  });

  it('emit-event events are matchable, but an automation never re-triggers itself (loop guard)', async () => {
    const loop = await createAutomation(t, {
      name: 'loop',
      trigger: { type: 'event', expect: ['loop.ping'] },
      actions: [{ type: 'emit-event', event: { event: 'loop.ping', resource: { 'reflex.resource.id': 'loop.{{ event.id }}' }, payload: { n: '{{ trigger.count }}' } } }],
    });
    const downstream = await createAutomation(t, { name: 'downstream', trigger: { type: 'event', expect: ['loop.ping'], match: { 'reflex.resource.id': 'loop.*' } } });
    const onTriggered = await createAutomation(t, {
      name: 'watch-triggered',
      trigger: { type: 'event', expect: ['reflex.automation.triggered'], match: { 'reflex.resource.id': `reflex.automation.${loop}` } },
    });
    await emit(t, [{ event: 'loop.ping' }]);
    await waitFirings(t, downstream, 1);
    await waitFirings(t, onTriggered, 1);
    await settle(t);
    assert.equal((await firings(t, loop)).length, 1);
    const [d] = await firings(t, downstream);
    assert.equal(d.triggering_event?.payload.n, 1);
  });

  it('pause-automation without an id pauses the automation itself', async () => {
    const id = await createAutomation(t, { name: 'once', trigger: { type: 'event', expect: ['once.x'] }, actions: [{ type: 'pause-automation' }] });
    await emit(t, [{ event: 'once.x' }]);
    await waitOutcomes(t, id);
    await waitFor(async () => (await t.api('GET', `/api/automations/${id}`)).body.enabled === false, { what: 'paused' });
    await waitLoaded([t], id, undefined, false);
    await emit(t, [{ event: 'once.x' }]);
    await settle(t);
    assert.equal((await firings(t, id)).length, 1);
  });

  it('action outcomes are emitted as reflex.automation.action.executed events', async () => {
    const src = await createAutomation(t, { name: 'src', trigger: { type: 'event', expect: ['src.x'] } });
    const watch = await createAutomation(t, {
      name: 'watch-actions',
      trigger: { type: 'event', expect: ['reflex.automation.action.executed'], match: { 'reflex.resource.id': `reflex.automation.${src}` } },
    });
    const [eventId] = await emit(t, [{ event: 'src.x' }]);
    const [f] = await waitFirings(t, watch, 1);
    const payload = f.triggering_event?.payload as Record<string, unknown>;
    assert.equal(payload.action_type, 'do-nothing');
    const related = (f.triggering_event as unknown as { related: Record<string, string>[] }).related;
    assert.ok(related.some((r) => r['reflex.resource.role'] === 'triggering-event' && r['reflex.resource.id'] === `reflex.event.${eventId}`));
  });
});

describe('outcome records', () => {
  const firing = (n: number): Firing => {
    const key = `outcome-test-${n}-${randomBytes(4).toString('hex')}`;
    return { id: deterministicUuid(key), key, automation_id: deterministicUuid('outcome-test'), state: 'triggered', trigger_path: '', bucket_key: '', triggering_labels: {}, triggering_event: null, count: 1, window_start: null, window_end: null, fired_at: new Date().toISOString() };
  };
  const actionsOf = async (id: string) =>
    (await t.rt.pg.query<{ actions: { index: number; status: string }[] }>('SELECT actions FROM automation_firings WHERE id = $1', [id])).rows[0]?.actions.map((a) => `${a.index}:${a.status}`);

  it('outcomes written together keep every action of a firing, whether or not the firing row exists yet', async () => {
    const types = ['call-webhook', 'do-nothing', 'emit-event'];
    const [a, b] = [firing(1), firing(2)];
    await recordFirings(t.rt.pg, [{ firing: a, actionTypes: types }]);
    await recordFirings(t.rt.pg, [{ firing: a, actionTypes: types, outcome: { index: 2, type: 'emit-event', status: 'failed', reason: 'x' } }]);
    // One statement: two outcomes of the existing firing and two of a firing not recorded yet.
    await recordFirings(t.rt.pg, [
      { firing: a, actionTypes: types, outcome: { index: 0, type: 'call-webhook', status: 'executed' } },
      { firing: b, actionTypes: types, outcome: { index: 1, type: 'do-nothing', status: 'executed' } },
      { firing: a, actionTypes: types, outcome: { index: 1, type: 'do-nothing', status: 'executed' } },
      { firing: b, actionTypes: types, outcome: { index: 0, type: 'call-webhook', status: 'failed', reason: 'y' } },
    ]);
    assert.deepEqual(await actionsOf(a.id), ['0:executed', '1:executed', '2:failed']);
    assert.deepEqual(await actionsOf(b.id), ['0:failed', '1:executed', '2:pending']);
    // The dispatcher's record arriving after the outcomes changes nothing.
    await recordFirings(t.rt.pg, [{ firing: b, actionTypes: types }]);
    assert.deepEqual(await actionsOf(b.id), ['0:failed', '1:executed', '2:pending']);
  });
});

describe('actions on an outage', () => {
  it('an action that meets an infrastructure error is queued and performed by the executor', async () => {
    const id = await createAutomation(t, {
      name: 'retried-hook',
      trigger: { type: 'event', expect: ['retry.me'] },
      actions: [{ type: 'do-nothing' }, { type: 'call-webhook', url: 'http://127.0.0.1:9999/retried' }],
    });
    const automation = (await t.api<Automation>('GET', `/api/automations/${id}`)).body;
    const key = `retry-${randomBytes(4).toString('hex')}`;
    const f: Firing = { id: deterministicUuid(key), key, automation_id: id, state: 'triggered', trigger_path: '', bucket_key: '', triggering_labels: {}, triggering_event: null, count: 1, window_start: null, window_end: null, fired_at: new Date().toISOString() };
    const live = liveDeps(t);
    let refused = 0;
    // The seam between dispatch and Redis fails once, as during an outage; everything else is real.
    const actions: ActionDeps = { ...live, deliver: async (data) => (refused++ === 0 ? Promise.reject(new Error('connection lost')) : live.deliver(data)) };
    {
      await dispatchFirings(dispatchDeps(t, automation, actions), [f]);
      assert.equal(refused, 1);
      // do-nothing was performed at once; the webhook went to the queue and the executor performed it.
      const done = await waitFor(async () => {
        const row = (await t.rt.pg.query<{ actions: { status: string }[] }>('SELECT actions FROM automation_firings WHERE id = $1', [f.id])).rows[0];
        return row?.actions.every((a) => a.status === 'executed') ? row : null;
      }, { what: 'both outcomes executed' });
      assert.equal(done.actions.length, 2);
      const deliveries = queue(t, t.rt.names.queues.webhookDeliveries);
      try {
        assert.ok(await deliveries.getJob(`${f.id}-1`), 'the delivery was enqueued by the retried action');
      } finally {
        await deliveries.close();
      }
    }
  });
  it('a firing dispatched again (its first dispatch died) performs only the actions without a recorded outcome', async () => {
    const id = await createAutomation(t, {
      name: 'dispatched-twice',
      trigger: { type: 'event', expect: ['twice.me'] },
      actions: [{ type: 'call-webhook', url: 'http://127.0.0.1:9999/first' }, { type: 'call-webhook', url: 'http://127.0.0.1:9999/second' }],
    });
    const automation = (await t.api<Automation>('GET', `/api/automations/${id}`)).body;
    const key = `twice-${randomBytes(4).toString('hex')}`;
    const f: Firing = { id: deterministicUuid(key), key, automation_id: id, state: 'triggered', trigger_path: '', bucket_key: '', triggering_labels: {}, triggering_event: null, count: 1, window_start: null, window_end: null, fired_at: new Date().toISOString() };
    // The first dispatch got as far as recording the first action's outcome.
    await recordFirings(t.rt.pg, [{ firing: f, actionTypes: ['call-webhook', 'call-webhook'], outcome: { index: 0, type: 'call-webhook', status: 'executed' } }]);
    const live = liveDeps(t);
    const sent: string[] = [];
    const actions: ActionDeps = { ...live, deliver: async (data) => (sent.push(data.url), live.deliver(data)) };
    await dispatchFirings(dispatchDeps(t, automation, actions), [f], { again: true });
    assert.deepEqual(sent, ['http://127.0.0.1:9999/second']);
    const row = (await t.rt.pg.query<{ actions: { status: string }[] }>('SELECT actions FROM automation_firings WHERE id = $1', [f.id])).rows[0];
    assert.deepEqual(row.actions.map((a) => a.status), ['executed', 'executed']);
  });
});

/** The automations service's real action side effects, wired as its main.ts does. */
function liveDeps(t: TestEngine): ActionDeps {
  const { rt, modules } = t;
  return liveActionDeps({ pg: rt.pg, bus: rt.bus, nats: rt.nats, names: rt.names, log: rt.log, commands: modules.runs.commands, deliveries: modules.deliveries, maxPayloadBytes: rt.config.maxPayloadBytes });
}

function dispatchDeps(t: TestEngine, automation: Automation, actions: ActionDeps): DispatchDeps {
  const { rt, modules } = t;
  return {
    pg: rt.pg,
    bus: rt.bus,
    queues: rt.queues,
    log: rt.log,
    store: new RedisStateStore(rt.redis, rt.names),
    automations: () => automation,
    actions,
    flowRun: (id) => modules.runs.store.getFlowRun(id),
  };
}
