import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventOps, Evaluator } from '../modules/automations/engine/evaluator.ts';
import { compilePlan, PlanIndex } from '../modules/automations/engine/plan.ts';
import { RedisStateStore } from '../modules/automations/redis-state-store.ts';
import { validateAutomation } from '../modules/automations/engine/validate.ts';
import { createAutomation, emit, firings, settle, waitFirings } from './support/automations.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

// Two automation replicas in one namespace share the durable consumer (work sharing) and the Redis
// trigger state: every firing happens exactly once, none is missed.

let t: TestEngine;
let replica: TestEngine;
before(async () => {
  t = await startTestEngine({ services: ['recorder', 'automations', 'api'] });
  replica = await startTestEngine({ services: ['automations'], namespace: t.config.namespace });
});
after(async () => {
  await replica?.stop();
  await t?.cleanup();
});

describe('two replicas', () => {
  it('process one stream with no double and no missed firing', async () => {
    const engines = [t, replica];
    const perBucket = await createAutomation(t, {
      name: 'per-bucket',
      trigger: { type: 'event', expect: ['rep.e'], threshold: 5, within: 3600, for_each: ['payload.k'] },
    }, engines);
    const every = await createAutomation(t, { name: 'every', trigger: { type: 'event', expect: ['rep.e'] } }, engines);
    const hot = await createAutomation(t, { name: 'hot', trigger: { type: 'event', expect: ['rep.e'], threshold: 10, within: 3600 } }, engines);

    // 20 buckets x 5 events, posted as 20 concurrent requests so both replicas get a share.
    const requests = Array.from({ length: 20 }, (_, r) => Array.from({ length: 5 }, (_, i) => ({ event: 'rep.e', payload: { k: `k${(r + i * 7) % 20}` } })));
    await Promise.all(requests.map((events) => emit(t, events)));

    const bucketFirings = await waitFirings(t, perBucket, 20, '20 bucket firings', 20_000);
    await waitFirings(t, every, 100, '100 immediate firings', 20_000);
    await waitFirings(t, hot, 1, 'hot bucket firing', 20_000);
    await settle(t, [t, replica]);
    assert.equal((await firings(t, perBucket)).length, 20);
    assert.deepEqual(new Set(bucketFirings.map((f) => f.triggering_labels['payload.k'])).size, 20);
    assert.ok(bucketFirings.every((f) => f.count === 5));
    assert.equal((await firings(t, every)).length, 100);
    // One window of 3600 s: the hot bucket fires once (at the 10th event) and then cools down.
    assert.equal((await firings(t, hot)).length, 1);

    // One performed action per firing: 20 + 100 + 1, plus the sentinel's one (action events have ids
    // derived from the firing, so a firing recorded twice under two ids would show here).
    const executed = async () =>
      (await t.rt.pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE event = 'reflex.automation.action.executed'`)).rows[0].n;
    await waitFor(async () => (await executed()) >= 122, { what: '122 action events' });
    assert.equal(await executed(), 122);
  });

  it('a proactive deadline fires once although both replicas poll it', async () => {
    const id = await createAutomation(t, { name: 'rep-silence', trigger: { type: 'event', expect: ['rep.none'], posture: 'Proactive', within: 1 } }, [t, replica]);
    const fs = await waitFirings(t, id, 3, 'three windows', 8000);
    await t.api('PATCH', `/api/automations/${id}`, { enabled: false });
    const ends = fs.map((f) => f.window_end);
    assert.equal(new Set(ends).size, ends.length, `each window fires once: ${ends.join(', ')}`);
    for (const f of fs) assert.ok(Date.parse(f.fired_at) - Date.parse(f.window_end!) < 1000);
  });

  it('a compound trigger whose children arrive at different replicas fires once', async () => {
    const id = await createAutomation(t, {
      name: 'rep-compound',
      trigger: { type: 'compound', require: 'all', within: 60, triggers: [{ type: 'event', expect: ['rep.a'] }, { type: 'event', expect: ['rep.b'] }] },
    }, [t, replica]);
    await Promise.all([emit(t, [{ event: 'rep.a' }]), emit(t, [{ event: 'rep.b' }])]);
    await waitFirings(t, id, 1);
    await settle(t, [t, replica]);
    assert.equal((await firings(t, id)).length, 1);
  });

  it('a redelivered message that another replica already applied is not counted again', async () => {
    const doc = validateAutomation({ name: 'redeliver', trigger: { type: 'event', expect: ['rd.x'], threshold: 2, within: 60 } });
    const stamp = new Date().toISOString();
    const plan = compilePlan({ ...doc, id: '00000000-0000-4000-8000-0000000000aa', created: stamp, updated: stamp });
    const index = new PlanIndex([plan]);
    const event = { id: '0190a6a0-0000-7000-8000-0000000000aa', occurred: stamp, event: 'rd.x', resource: { 'reflex.resource.id': 'x' }, related: [], payload: {} };
    // Two replicas' stores (separate caches) over the same Redis.
    const a = new Evaluator(new RedisStateStore(t.rt.redis, t.rt.names));
    const b = new Evaluator(new RedisStateStore(replica.rt.redis, replica.rt.names));
    await a.run(eventOps(index, [event], [900_001]), Date.now(), { messages: [900_001] });
    const again = await b.run(eventOps(index, [event], [900_001]), Date.now(), { messages: [900_001], redelivered: true });
    assert.equal(again.writes.filter((w) => w.value !== undefined).length, 0);
    const other = { ...event, id: '0190a6a0-0000-7000-8000-0000000000ab' };
    const second = await b.run(eventOps(index, [other], [900_002]), Date.now(), { messages: [900_002] });
    assert.equal(second.firings.length, 1, 'the second distinct event is the second count');
  });
});
