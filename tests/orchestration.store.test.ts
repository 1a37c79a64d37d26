import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Subscription } from '@nats-io/nats-core';
import type { ReflexEvent } from '../schemas/event.ts';
import { Waits } from '../modules/waits/index.ts';
import { createOutboxService } from '../services/outbox/main.ts';
import { OutboxRelay } from '../services/outbox/relay.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

describe('orchestration store, state writer and outbox relay', () => {
  let t: TestEngine;
  let sub: Subscription;
  const events: ReflexEvent[] = [];

  before(async () => {
    t = await startTestEngine({ services: ['outbox'] });
    sub = t.rt.nats.subscribe(t.rt.names.eventFilterSubject('reflex.*'));
    void (async () => {
      for await (const m of sub) events.push(t.rt.bus.decode(m.data));
    })();
  });
  after(async () => {
    sub.unsubscribe();
    await t.cleanup();
  });

  it('records concurrent transitions of many runs in batches, each run in order, with events in order', async () => {
    const store = t.modules.runs.store;
    const runs = await Promise.all(
      Array.from({ length: 60 }, (_, i) => store.createFlowRun({ flow_name: 'etl', parameters: { i }, tags: ['batch'], work_pool: 'default' })),
    );
    await Promise.all(
      runs.map(async (run) => {
        const r1 = await store.setFlowRunState(run.id, { type: 'RUNNING' });
        assert.equal(r1.accepted, true);
        const r2 = await store.setFlowRunState(run.id, { type: 'COMPLETED' }, { result: { rows: 3 } });
        assert.equal(r2.accepted, true);
        assert.deepEqual(r2.run.result, { rows: 3 });
      }),
    );
    // Proposals made without awaiting each other still apply in the order they were made.
    const extra = await store.createFlowRun({ flow_name: 'etl' });
    const [a, b, c] = await Promise.all([
      store.setFlowRunState(extra.id, { type: 'RUNNING' }),
      store.setFlowRunState(extra.id, { type: 'FAILED', message: 'boom' }),
      store.setFlowRunState(extra.id, { type: 'SCHEDULED', name: 'AwaitingRetry' }),
    ]);
    assert.deepEqual([a.accepted, b.accepted, c.accepted], [true, true, true]);
    const again = await store.setFlowRunState(extra.id, { type: 'RUNNING' });
    assert.equal(again.state.name, 'Retrying');
    assert.equal(again.run.run_count, 2);

    const history = await t.rt.pg.query('SELECT flow_run_id, type, name FROM flow_run_states ORDER BY id');
    const byRun = new Map<string, string[]>();
    for (const r of history.rows) byRun.set(r.flow_run_id, [...(byRun.get(r.flow_run_id) ?? []), r.name]);
    for (const run of runs) assert.deepEqual(byRun.get(run.id), ['Pending', 'Running', 'Completed']);
    assert.deepEqual(byRun.get(extra.id), ['Pending', 'Running', 'Failed', 'AwaitingRetry', 'Retrying']);

    const total = runs.length * 3 + 5;
    await waitFor(() => events.filter((e) => e.event.startsWith('reflex.flow-run.')).length >= total, { what: 'all state events' });
    const extraEvents = events.filter((e) => e.resource['reflex.resource.id'] === `reflex.flow-run.${extra.id}`).map((e) => e.event);
    assert.deepEqual(extraEvents, ['reflex.flow-run.Pending', 'reflex.flow-run.Running', 'reflex.flow-run.Failed', 'reflex.flow-run.AwaitingRetry', 'reflex.flow-run.Retrying']);
    for (const run of runs) {
      const names = events.filter((e) => e.resource['reflex.resource.id'] === `reflex.flow-run.${run.id}`).map((e) => e.event);
      assert.deepEqual(names, ['reflex.flow-run.Pending', 'reflex.flow-run.Running', 'reflex.flow-run.Completed']);
    }
    const completed = events.find((e) => e.event === 'reflex.flow-run.Completed' && e.resource['reflex.resource.id'] === `reflex.flow-run.${runs[0].id}`)!;
    assert.equal(completed.resource['reflex.state-type'], 'COMPLETED');
    assert.equal(completed.resource['reflex.resource.name'], runs[0].name);
    assert.deepEqual(
      completed.related.map((r) => [r['reflex.resource.role'], r['reflex.resource.id']]),
      [['flow', 'reflex.flow.etl'], ['work-pool', 'reflex.work-pool.default'], ['tag', 'reflex.tag.batch']],
    );
    assert.deepEqual(completed.payload.parameters, { i: runs[0].parameters.i });
    assert.deepEqual(completed.payload.result, { rows: 3 });
    // The relay deletes a row after JetStream acknowledged it, so the event can be seen a moment before.
    await waitFor(async () => (await t.rt.pg.query('SELECT count(*)::int AS n FROM outbox')).rows[0].n === 0, { what: 'an empty outbox' });
  });

  it('refuses an invalid transition with the reason and writes nothing', async () => {
    const store = t.modules.runs.store;
    const run = await store.createFlowRun({ flow_name: 'etl', state: { type: 'RUNNING' } });
    await store.setFlowRunState(run.id, { type: 'COMPLETED' });
    const r = await store.setFlowRunState(run.id, { type: 'RUNNING' });
    assert.equal(r.accepted, false);
    assert.equal(r.reason, 'cannot move flow run from COMPLETED to RUNNING: the run is finished');
    assert.equal(r.state.type, 'COMPLETED');
    const n = await t.rt.pg.query('SELECT count(*)::int AS n FROM flow_run_states WHERE flow_run_id = $1', [run.id]);
    assert.equal(n.rows[0].n, 2);
    await assert.rejects(store.setFlowRunState('00000000-0000-7000-8000-000000000000', { type: 'RUNNING' }), /does not exist/);
  });

  it('says with RUNNING whether the attempt replays finished tasks: after a crash or a resumed suspension, not after a failure', async () => {
    const store = t.modules.runs.store;
    const retry = { type: 'SCHEDULED', name: 'AwaitingRetry', scheduled_time: new Date().toISOString() } as const;
    const start = async (id: string) => {
      const r = await store.setFlowRunState(id, { type: 'RUNNING' });
      assert.equal(r.accepted, true, r.reason);
      return r.replay;
    };
    const failed = await store.createFlowRun({ flow_name: 'etl' });
    assert.equal(await start(failed.id), false);
    assert.equal((await store.setFlowRunState(failed.id, { ...retry, message: 'boom' })).accepted, true);
    assert.equal(await start(failed.id), false, 'a failure is a verdict on the code: its retry runs every task again');

    const crashed = await store.createFlowRun({ flow_name: 'etl' });
    await start(crashed.id);
    assert.equal((await store.setFlowRunState(crashed.id, { type: 'CRASHED', message: 'worker died' })).accepted, true);
    assert.equal((await store.setFlowRunState(crashed.id, retry)).accepted, true);
    assert.equal(await start(crashed.id), true);

    const suspended = await store.createFlowRun({ flow_name: 'etl' });
    await start(suspended.id);
    const waits = new Waits(t.rt.pg);
    await waits.open({ flow_run_id: suspended.id, wait_key: 'suspend-0', kind: 'suspend', spec: {}, timeout_at: null });
    assert.equal((await store.setFlowRunState(suspended.id, { type: 'PAUSED', name: 'Suspended' })).accepted, true);
    assert.notEqual(await waits.resolve(suspended.id, 'suspend-0', 'resumed', null), null);
    assert.equal((await store.setFlowRunState(suspended.id, { type: 'SCHEDULED' })).accepted, true);
    assert.equal(await start(suspended.id), true);

    // The crash, the retry and the new attempt proposed at once (one batch): the CRASHED state is not in
    // the table when the batch reads it, and still counts.
    const sameBatch = await store.createFlowRun({ flow_name: 'etl' });
    await start(sameBatch.id);
    const [c, s, r] = await Promise.all([
      store.setFlowRunState(sameBatch.id, { type: 'CRASHED' }),
      store.setFlowRunState(sameBatch.id, retry),
      store.setFlowRunState(sameBatch.id, { type: 'RUNNING' }),
    ]);
    assert.deepEqual([c.accepted, s.accepted, r.accepted, r.replay], [true, true, true, true]);
  });

  it("a worker's claim starts only a SCHEDULED or PENDING run whose attempt has not run, passing PENDING on the way", async () => {
    const store = t.modules.runs.store;
    const run = await store.createFlowRun({ flow_name: 'etl', state: { type: 'SCHEDULED', scheduled_time: new Date().toISOString() } });
    const claimed = await store.setFlowRunState(run.id, { type: 'RUNNING' }, { claim: { attempt: 1 } });
    assert.equal(claimed.accepted, true, claimed.reason);
    assert.equal(claimed.run.run_count, 1);
    const states = await t.rt.pg.query<{ type: string }>('SELECT type FROM flow_run_states WHERE flow_run_id = $1 ORDER BY id', [run.id]);
    assert.deepEqual(states.rows.map((r) => r.type), ['SCHEDULED', 'PENDING', 'RUNNING']);
    const again = await store.setFlowRunState(run.id, { type: 'RUNNING' }, { claim: { attempt: 1 } });
    assert.equal(again.accepted, false);
    assert.match(again.reason ?? '', /not startable: the run is RUNNING/);
    // The first attempt failed and the run awaits its retry: a redelivered job of attempt 1 is stale.
    await store.setFlowRunState(run.id, { type: 'SCHEDULED', name: 'AwaitingRetry', scheduled_time: new Date().toISOString() });
    const stale = await store.setFlowRunState(run.id, { type: 'RUNNING' }, { claim: { attempt: 1 } });
    assert.equal(stale.accepted, false);
    assert.match(stale.reason ?? '', /stale: attempt 1 has run already/);
    assert.equal((await store.setFlowRunState(run.id, { type: 'RUNNING' }, { claim: { attempt: 2 } })).run.run_count, 2);
    const after = await t.rt.pg.query<{ type: string }>('SELECT type FROM flow_run_states WHERE flow_run_id = $1 ORDER BY id', [run.id]);
    assert.deepEqual(after.rows.map((r) => r.type), ['SCHEDULED', 'PENDING', 'RUNNING', 'SCHEDULED', 'PENDING', 'RUNNING'], 'refused claims write nothing');
  });

  it('records task runs, their events with the flow run as related resource, and the cache', async () => {
    const store = t.modules.runs.store;
    const run = await store.createFlowRun({ flow_name: 'etl', state: { type: 'RUNNING' } });
    const task = await store.createTaskRun({ flow_run_id: run.id, task_name: 'extract', dynamic_key: 'extract-0', cache_key: 'k1', cache_expiration: new Date(Date.now() + 60_000).toISOString() });
    assert.equal(task.state.type, 'PENDING');
    await store.setTaskRunState(task.id, { type: 'RUNNING' });
    assert.equal(await store.findCachedTaskResult('k1'), null);
    await store.setTaskRunState(task.id, { type: 'COMPLETED' }, { result: [1, 2] });
    assert.deepEqual(await store.findCachedTaskResult('k1'), { task_run_id: task.id, result: [1, 2] });
    const expired = await store.createTaskRun({ flow_run_id: run.id, task_name: 'extract', dynamic_key: 'extract-1', cache_key: 'k2', cache_expiration: new Date(Date.now() - 1000).toISOString() });
    await store.setTaskRunState(expired.id, { type: 'RUNNING' });
    await store.setTaskRunState(expired.id, { type: 'COMPLETED' }, { result: 1 });
    assert.equal(await store.findCachedTaskResult('k2'), null);
    const done = await waitFor(() => events.find((e) => e.event === 'reflex.task-run.Completed' && e.resource['reflex.resource.id'] === `reflex.task-run.${task.id}`));
    assert.equal(done.related[0]['reflex.resource.id'], `reflex.flow-run.${run.id}`);
    assert.equal(done.related[0]['reflex.resource.role'], 'flow-run');
  });

  it('accepts caller-chosen ids, so task states can be proposed without awaiting the creation', async () => {
    const store = t.modules.runs.store;
    const { uuidv7 } = await import('uuidv7');
    const flowId = uuidv7();
    const taskId = uuidv7();
    const pipelined = [
      store.createFlowRun({ id: flowId, flow_name: 'piped', state: { type: 'RUNNING' } }),
      store.createTaskRun({ id: taskId, flow_run_id: flowId, task_name: 't', dynamic_key: 't-0' }),
      store.setTaskRunState(taskId, { type: 'RUNNING' }),
      store.setTaskRunState(taskId, { type: 'COMPLETED' }, { result: 42 }),
    ];
    const results = await Promise.all(pipelined);
    assert.equal((results[3] as { accepted: boolean }).accepted, true);
    const task = await store.getTaskRun(taskId);
    assert.equal(task?.state.type, 'COMPLETED');
    assert.equal(task?.result, 42);
    const history = await t.rt.pg.query<{ type: string }>('SELECT type FROM task_run_states WHERE task_run_id = $1 ORDER BY id', [taskId]);
    assert.deepEqual(history.rows.map((r) => r.type), ['PENDING', 'RUNNING', 'COMPLETED'], 'created and moved in one batch: every state kept');
    await assert.rejects(store.createTaskRun({ id: 'nope', flow_run_id: flowId, task_name: 't', dynamic_key: 't-1' }), /must be a UUID/);
  });

  it('creates one run for concurrent creations with the same idempotency key (one batch)', async () => {
    const store = t.modules.runs.store;
    const key = `same-key-${Date.now()}`;
    const results = await Promise.all([1, 2, 3].map(() => store.createFlowRunDetailed({ flow_name: 'dup', idempotency_key: key, state: { type: 'SCHEDULED' } })));
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal(new Set(results.map((r) => r.run.id)).size, 1, 'every caller gets the stored run');
    const rows = await t.rt.pg.query('SELECT count(*)::int AS n FROM flow_runs WHERE idempotency_key = $1', [key]);
    assert.equal(rows.rows[0].n, 1);
  });

  it('a batch of new runs writes states and events only for the runs it inserted', async () => {
    const store = t.modules.runs.store;
    const key = `kept-key-${Date.now()}`;
    const first = await store.createFlowRunDetailed({ flow_name: 'dup', idempotency_key: key, state: { type: 'SCHEDULED' } });
    // One batch (one round trip): a repeat of the stored key beside two new runs.
    const [again, a, b] = await Promise.all([
      store.createFlowRunDetailed({ flow_name: 'dup', idempotency_key: key, state: { type: 'SCHEDULED' } }),
      store.createFlowRunDetailed({ flow_name: 'fresh', idempotency_key: `${key}-a`, state: { type: 'SCHEDULED' } }),
      store.createFlowRunDetailed({ flow_name: 'fresh', state: { type: 'PENDING' } }),
    ]);
    assert.equal(again.created, false);
    assert.equal(again.run.id, first.run.id, 'the repeat answers the stored run');
    assert.equal(a.created && b.created, true);
    const states = await t.rt.pg.query<{ flow_run_id: string; type: string }>('SELECT flow_run_id, type FROM flow_run_states WHERE flow_run_id = ANY($1::uuid[])', [[first.run.id, a.run.id, b.run.id]]);
    assert.deepEqual(states.rows.map((r) => `${r.flow_run_id}:${r.type}`).sort(), [`${first.run.id}:SCHEDULED`, `${a.run.id}:SCHEDULED`, `${b.run.id}:PENDING`].sort(), 'one initial state per inserted run, none for the repeat');
    const published = await waitFor(() => {
      const mine = events.filter((e) => [first.run.id, a.run.id, b.run.id].some((id) => e.resource['reflex.resource.id'] === `reflex.flow-run.${id}`));
      return mine.length >= 3 ? mine : null;
    }, { what: 'the initial state events' });
    assert.equal(published.filter((e) => e.resource['reflex.resource.id'] === `reflex.flow-run.${first.run.id}`).length, 1, 'the repeat published no second event');
  });

  it('stores any text exactly: quotes, backslashes, dollar-quote tags, unicode', async () => {
    const store = t.modules.runs.store;
    const tricky = `it's "quoted" \\ back\\slash $j$ $j0$ $$ \u00e9\u{1F600} \n end`;
    const run = await store.createFlowRun({ flow_name: 'tricky', parameters: { s: tricky, [tricky]: [tricky] }, tags: [tricky], state: { type: 'RUNNING' } });
    const done = await store.setFlowRunState(run.id, { type: 'COMPLETED', message: tricky }, { result: { s: tricky } });
    assert.equal(done.accepted, true);
    const stored = await store.getFlowRun(run.id);
    assert.deepEqual(stored?.parameters, { s: tricky, [tricky]: [tricky] });
    assert.deepEqual(stored?.tags, [tricky]);
    assert.equal(stored?.state.message, tricky);
    assert.deepEqual(stored?.result, { s: tricky });
  });

  it('stores logs in batches', async () => {
    const store = t.modules.runs.store;
    const run = await store.createFlowRun({ flow_name: 'etl' });
    store.appendLogs(Array.from({ length: 30 }, (_, i) => ({ flow_run_id: run.id, task_run_id: null, level: 30, message: `line ${i}`, timestamp: new Date().toISOString(), fields: { i } })));
    await store.flushLogs();
    const rows = await t.rt.pg.query('SELECT message FROM logs WHERE flow_run_id = $1 ORDER BY id', [run.id]);
    assert.equal(rows.rows.length, 30);
    assert.equal(rows.rows[29].message, 'line 29');
  });

  it('publishes rows written while the relay was stopped once a relay starts', async () => {
    const relay = t.services.find((s) => s.name === 'outbox')!;
    await relay.stop();
    const store = t.modules.runs.store;
    const run = await store.createFlowRun({ flow_name: 'offline' });
    await store.setFlowRunState(run.id, { type: 'RUNNING' });
    await store.setFlowRunState(run.id, { type: 'COMPLETED' });
    const waiting = await t.rt.pg.query('SELECT count(*)::int AS n FROM outbox WHERE run_id = $1', [run.id]);
    assert.equal(waiting.rows[0].n, 3);
    const fresh = createOutboxService(t.rt, t.modules);
    await fresh.start();
    try {
      const got = await waitFor(() => {
        const mine = events.filter((e) => e.resource['reflex.resource.id'] === `reflex.flow-run.${run.id}`);
        return mine.length === 3 ? mine : null;
      }, { what: 'events after the relay restarted' });
      assert.deepEqual(got.map((e) => e.event), ['reflex.flow-run.Pending', 'reflex.flow-run.Running', 'reflex.flow-run.Completed']);
      // Republishing the same ids (a crash between publish and delete) is absorbed by JetStream.
      const again = await t.rt.bus.publish(got[0]);
      assert.equal(again.duplicate, true);
    } finally {
      await fresh.stop();
    }
  });

  it('spaces relay passes while commits keep coming, and publishes every row', async () => {
    await t.services.find((s) => s.name === 'outbox')!.stop();
    const store = t.modules.runs.store;
    const relay = new OutboxRelay(
      { pg: t.rt.pg, nats: t.rt.nats, bus: t.rt.bus, log: t.rt.log, pgSchema: t.rt.names.pgSchema, channel: t.rt.names.pgChannels.outbox, onCommit: (l) => store.writer.onCommit(l) },
      { minPassIntervalMs: 500 },
    );
    await relay.start();
    try {
      await waitFor(() => relay.passes >= 1 || null, { what: 'the relay\'s first pass' });
      const before = relay.passes;
      // Ten commits one after another, each waking the relay: within 500 ms of the last pass they join one.
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) ids.push((await store.createFlowRun({ flow_name: 'spaced', parameters: { i } })).id);
      await waitFor(() => ids.every((id) => events.some((e) => e.resource['reflex.resource.id'] === `reflex.flow-run.${id}`)) || null, { what: 'the ten initial state events' });
      assert.ok(relay.passes - before <= 2, `ten commits took ${relay.passes - before} passes`);
    } finally {
      await relay.stop();
    }
  });
});
