import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AutomationInputSchema } from '../schemas/automation.ts';
import type { ReflexEvent } from '../schemas/event.ts';
import { dryRun } from '../modules/automations/engine/dry-run.ts';
import { eventOps, Evaluator } from '../modules/automations/engine/evaluator.ts';
import { compilePlan, PlanIndex } from '../modules/automations/engine/plan.ts';
import { MemoryStateStore } from '../modules/automations/engine/state-store.ts';
import { bucketOf, compileEventTrigger, labelListTest, resourceTest } from '../modules/automations/engine/match.ts';
import { validateAutomation } from '../modules/automations/engine/validate.ts';

// Pure evaluation, table-driven: the same evaluator as the live service over an in-memory store.

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
let n = 0;
function ev(name: string, atSeconds: number, extra: Partial<ReflexEvent> = {}): ReflexEvent {
  n += 1;
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    occurred: new Date(T0 + atSeconds * 1000).toISOString(),
    event: name,
    resource: { 'reflex.resource.id': 'thing.1' },
    related: [],
    payload: {},
    ...extra,
  };
}

async function fire(trigger: unknown, events: ReflexEvent[], untilSeconds?: number) {
  const doc = validateAutomation({ name: 'x', trigger, actions: [{ type: 'do-nothing' }] });
  const r = await dryRun(doc, events, { until: T0 + (untilSeconds ?? Math.max(0, ...events.map((e) => (Date.parse(e.occurred) - T0) / 1000))) * 1000, maxPayloadBytes: 1e6 });
  return r;
}

describe('matching', () => {
  const cases: [string[], string, boolean][] = [
    [['order.*'], 'order.created', true],
    [['order.*'], 'orders', false],
    [['*.csv'], 's3://a/b.csv', true],
    [['!prod'], 'dev', true],
    [['!prod'], 'prod', false],
    [['dev-*', '!dev-x'], 'dev-x', false],
    [['dev-*', '!dev-x'], 'dev-y', true],
    [['a', 'b'], 'b', true],
  ];
  for (const [patterns, value, expected] of cases) {
    it(`${JSON.stringify(patterns)} on "${value}" -> ${expected}`, () => assert.equal(labelListTest(patterns)(value), expected));
  }

  it('a missing label never matches, not even a negation', () => {
    assert.equal(resourceTest({ env: '!prod' })({ 'reflex.resource.id': 'x' }), false);
  });

  it('match_related needs one related resource per spec', () => {
    const t = compileEventTrigger(
      AutomationInputSchema.parse({ name: 'x', trigger: { type: 'event', expect: ['a'], match_related: { 'reflex.resource.role': 'tag', 'reflex.resource.id': 'reflex.tag.prod' } } })
        .trigger as never,
    );
    assert.ok(t.test(ev('a', 0, { related: [{ 'reflex.resource.id': 'reflex.tag.prod', 'reflex.resource.role': 'tag' }] })));
    assert.equal(t.test(ev('a', 0, { related: [{ 'reflex.resource.id': 'reflex.tag.dev', 'reflex.resource.role': 'tag' }] })), null);
  });

  it('for_each reads labels, related labels and payload paths; missing is ""', () => {
    const e = ev('a', 0, { payload: { order: { region: 'eu' } }, related: [{ 'reflex.resource.id': 'f', 'reflex.resource.role': 'flow', 'reflex.resource.name': 'etl' }] });
    const b = bucketOf(['payload.order.region', 'related:flow:reflex.resource.name', 'missing'], e);
    assert.deepEqual(b.labels, { 'payload.order.region': 'eu', 'related:flow:reflex.resource.name': 'etl', missing: '' });
  });
});

describe('reactive windows', () => {
  it('threshold 3 within 10 s: events at 0, 9, 12, 13 do not fire (tumbling windows, Prefect example)', async () => {
    const r = await fire({ type: 'event', expect: ['a'], threshold: 3, within: 10 }, [ev('a', 0), ev('a', 9), ev('a', 12), ev('a', 13)]);
    assert.equal(r.firings.length, 0);
  });

  it('window end is exclusive: 2 events exactly `within` apart do not fire; 1 ms less does', async () => {
    const t = { type: 'event', expect: ['a'], threshold: 2, within: 2 };
    assert.equal((await fire(t, [ev('a', 0), ev('a', 2)])).firings.length, 0);
    assert.equal((await fire(t, [ev('a', 0), ev('a', 1.999)])).firings.length, 1);
  });

  it('fires once per window, then suppresses until the window end (cooldown)', async () => {
    const r = await fire({ type: 'event', expect: ['a'], threshold: 1, within: 10 }, [ev('a', 0), ev('a', 5), ev('a', 9), ev('a', 10), ev('a', 11)]);
    assert.deepEqual(r.firings.map((f) => f.triggering_event?.occurred), [new Date(T0).toISOString(), new Date(T0 + 10_000).toISOString()]);
  });

  it('out of order inside one window fires exactly once; a duplicate id counts once', async () => {
    const a = ev('a', 5);
    const r = await fire({ type: 'event', expect: ['a'], threshold: 2, within: 10 }, [a, { ...a }]);
    assert.equal(r.firings.length, 0);
    const r2 = await fire({ type: 'event', expect: ['a'], threshold: 2, within: 10 }, [ev('a', 5), ev('a', 1)]);
    assert.equal(r2.firings.length, 1);
  });

  it('within 0, threshold 1: every event fires; threshold 3: every third', async () => {
    const evs = [ev('a', 0), ev('a', 0), ev('a', 1), ev('a', 2), ev('a', 3), ev('a', 4)];
    assert.equal((await fire({ type: 'event', expect: ['a'] }, evs)).firings.length, 6);
    assert.equal((await fire({ type: 'event', expect: ['a'], threshold: 3 }, evs)).firings.length, 2);
  });

  it('for_each buckets count independently', async () => {
    const e = (id: string, t: number) => ev('a', t, { resource: { 'reflex.resource.id': id } });
    const r = await fire({ type: 'event', expect: ['a'], threshold: 2, within: 10, for_each: ['reflex.resource.id'] }, [e('x', 0), e('y', 1), e('x', 2), e('y', 20)]);
    assert.deepEqual(r.firings.map((f) => f.triggering_labels), [{ 'reflex.resource.id': 'x' }]);
    assert.equal(r.buckets.length, 2);
  });

  it('after arms; expect before after is ignored; each arm fires once', async () => {
    const t = { type: 'event', after: ['start'], expect: ['done'], within: 10 };
    const r = await fire(t, [ev('done', 0), ev('start', 1), ev('done', 2), ev('done', 3), ev('start', 4), ev('done', 20)]);
    assert.equal(r.firings.length, 1);
    assert.equal(r.firings[0].triggering_event?.event, 'done');
  });

  it('json-logic condition gates counting', async () => {
    const t = { type: 'event', expect: ['order.created'], condition: { '>': [{ var: 'event.payload.total' }, 100] } };
    const r = await fire(t, [ev('order.created', 0, { payload: { total: 50 } }), ev('order.created', 1, { payload: { total: 150 } })]);
    assert.equal(r.firings.length, 1);
    assert.equal(r.firings[0].triggering_event?.payload.total, 150);
  });
});

describe('proactive', () => {
  it('without events fires at the end of each window after enabling', async () => {
    const doc = validateAutomation({ name: 'x', trigger: { type: 'event', expect: ['hb'], posture: 'Proactive', within: 10 } });
    const r = await dryRun(doc, [], { until: Date.now() + 35_000, maxPayloadBytes: 1e6 });
    assert.equal(r.firings.length, 3);
    assert.equal(r.firings[0].triggering_event, null);
  });

  it('heartbeat: fires `within` after the last heartbeat, once, then resolves on the next one', async () => {
    const t = { type: 'event', after: ['hb'], expect: ['hb'], posture: 'Proactive', within: 10, for_each: ['reflex.resource.id'] };
    const r = await fire(t, [ev('hb', 0), ev('hb', 5), ev('hb', 8)], 40);
    assert.equal(r.firings.length, 1);
    assert.equal(r.firings[0].fired_at, new Date(T0 + 18_000).toISOString());
    assert.equal(r.firings[0].triggering_event?.occurred, new Date(T0 + 8_000).toISOString());
    const r2 = await fire(t, [ev('hb', 0), ev('hb', 30)], 35);
    assert.deepEqual(r2.firings.map((f) => f.state), ['triggered', 'resolved']);
  });

  it('after A expect B: B inside the window satisfies, otherwise fires once with A as triggering event', async () => {
    const t = { type: 'event', after: ['a'], expect: ['b'], posture: 'Proactive', within: 10 };
    assert.equal((await fire(t, [ev('a', 0), ev('b', 5)], 60)).firings.length, 0);
    const r = await fire(t, [ev('a', 0)], 60);
    assert.equal(r.firings.length, 1);
    assert.equal(r.firings[0].triggering_event?.event, 'a');
  });
});

describe('composite', () => {
  const A = { type: 'event', expect: ['a'] };
  const B = { type: 'event', expect: ['b'] };
  const C = { type: 'event', expect: ['c'] };
  it('compound all fires once when every child fired within the window', async () => {
    const t = { type: 'compound', require: 'all', within: 10, triggers: [A, B] };
    assert.equal((await fire(t, [ev('a', 0), ev('b', 5)])).firings.length, 1);
    assert.equal((await fire(t, [ev('a', 0), ev('b', 15)])).firings.length, 0);
  });
  it('compound any fires on each child; N needs N distinct children', async () => {
    assert.equal((await fire({ type: 'compound', require: 'any', triggers: [A, B] }, [ev('a', 0), ev('b', 1)])).firings.length, 2);
    const t = { type: 'compound', require: 2, triggers: [A, B, C] };
    assert.equal((await fire(t, [ev('a', 0), ev('a', 1)])).firings.length, 0);
    assert.equal((await fire(t, [ev('a', 0), ev('c', 1)])).firings.length, 1);
  });
  const seq = { type: 'sequence', within: 60, triggers: [A, B, C] };
  const cases: [string, string[], number][] = [
    ['A,B,C fires', ['a', 'b', 'c'], 1],
    ['A,C,B does not', ['a', 'c', 'b'], 0],
    ['A,B,B,C fires', ['a', 'b', 'b', 'c'], 1],
    ['A,B,A,C does not', ['a', 'b', 'a', 'c'], 0],
  ];
  for (const [title, names, expected] of cases) {
    it(`sequence: ${title}`, async () => {
      assert.equal((await fire(seq, names.map((nm, i) => ev(nm, i)))).firings.length, expected);
    });
  }
});

describe('pending firings', () => {
  // A stateful trigger's firings are committed as pending copies (the sweep finishes a dispatch that
  // died), a stateless one's are not: its dispatch has no copy to clear, so it sends Redis nothing.
  async function evaluate(trigger: unknown, events: ReflexEvent[]) {
    const doc = validateAutomation({ name: 'pending', trigger, actions: [{ type: 'do-nothing' }] });
    const stamp = new Date(T0).toISOString();
    const index = new PlanIndex([compilePlan({ ...doc, id: '00000000-0000-4000-8000-0000000000bb', created: stamp, updated: stamp })]);
    const store = new MemoryStateStore();
    const evaluator = new Evaluator(store);
    const results = [];
    for (const [i, e] of events.entries()) results.push(await evaluator.run(eventOps(index, [e], [i + 1]), Date.parse(e.occurred), { messages: [i + 1] }));
    return { results, pendingKeys: (await store.stalePending(-1)).map((f) => f.key) };
  }

  it('a stateless trigger fires with nothing pending', async () => {
    const { results, pendingKeys } = await evaluate({ type: 'event', expect: ['p.a'] }, [ev('p.a', 0)]);
    assert.equal(results[0].firings.length, 1);
    assert.equal(results[0].pending, false);
    assert.deepEqual(pendingKeys, []);
  });

  it('a threshold trigger fires with its firing pending', async () => {
    const { results, pendingKeys } = await evaluate({ type: 'event', expect: ['p.a'], threshold: 2, within: 60 }, [ev('p.a', 0), ev('p.a', 1)]);
    assert.equal(results[0].firings.length, 0);
    assert.equal(results[1].firings.length, 1);
    assert.equal(results[1].pending, true);
    assert.deepEqual(pendingKeys, [results[1].firings[0].key]);
  });
});
