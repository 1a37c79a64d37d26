import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

// The automation API end to end: CRUD, validation answers, dry runs and backtests over stored events.

let t: TestEngine;
before(async () => {
  t = await startTestEngine({ services: ['recorder', 'automations', 'api'] });
});
after(async () => {
  await t?.cleanup();
});

const doc = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  trigger: { type: 'event', expect: ['order.created'], threshold: 2, within: 60 },
  actions: [{ type: 'do-nothing' }],
  ...extra,
});

describe('automation CRUD', () => {
  it('creates (201 with id and defaults), reads, lists, replaces, patches and deletes', async () => {
    const created = await t.api('POST', '/api/automations', doc('crud'));
    assert.equal(created.status, 201);
    assert.match(created.body.id, /^[0-9a-f-]{36}$/);
    assert.equal(created.body.enabled, true);
    assert.equal(created.body.trigger.posture, 'Reactive');
    assert.deepEqual(created.body.actions_on_resolve, []);
    const id = created.body.id;

    assert.equal((await t.api('GET', `/api/automations/${id}`)).body.name, 'crud');
    const list = await t.api('GET', '/api/automations');
    assert.ok(list.body.items.some((a: { id: string }) => a.id === id));
    assert.equal(list.body.next_cursor, null);

    const put = await t.api('PUT', `/api/automations/${id}`, doc('crud', { description: 'changed' }));
    assert.equal(put.status, 200);
    assert.equal(put.body.description, 'changed');

    const patched = await t.api('PATCH', `/api/automations/${id}`, { enabled: false });
    assert.equal(patched.body.enabled, false);
    assert.equal(patched.body.description, 'changed');

    assert.equal((await t.api('DELETE', `/api/automations/${id}`)).status, 204);
    assert.equal((await t.api('GET', `/api/automations/${id}`)).status, 404);
    assert.equal((await t.api('GET', '/api/automations/not-a-uuid')).status, 404);
  });

  it('refuses a duplicate name with 409', async () => {
    assert.equal((await t.api('POST', '/api/automations', doc('dup'))).status, 201);
    const again = await t.api('POST', '/api/automations', doc('dup'));
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'conflict');
  });

  it('answers 400 with field paths for invalid documents', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ trigger: { type: 'event', expect: ['a'] } }, 'name', /./],
      [doc('bad1', { trigger: { type: 'event', expect: ['a'], condition: { and: [{ '==': [1, 1] }, { regex: ['x'] }] } } }), 'trigger.condition.and[1].regex', /unknown json-logic operator/],
      [doc('bad2', { trigger: { type: 'event', expect: ['a'], posture: 'Proactive' } }), 'trigger.within', /Proactive/],
      [doc('bad3', { trigger: { type: 'compound', require: 3, triggers: [{ type: 'event', expect: ['a'] }] } }), 'trigger.require', /only 1/],
      [doc('bad4', { actions: [{ type: 'call-webhook', url: 'http://x/{{ event.id ' }] }), 'actions[0].url', /template error/],
      [doc('bad5', { actions: [{ type: 'run-deployment' }] }), 'actions[0].deployment_name', /required/],
      [doc('bad6', { actions: [{ type: 'send-pigeon' }] }), 'actions[0].type', /./],
      [doc('bad7', { trigger: { type: 'event' } }), 'trigger.expect', /matches every event/],
      [doc('bad8', { extra: 1 }), '', /extra/],
    ];
    for (const [body, path, message] of cases) {
      const res = await t.api('POST', '/api/automations', body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      const issue = res.body.error.issues.find((i: { path: string }) => i.path === path);
      assert.ok(issue, `expected an issue at "${path}", got ${JSON.stringify(res.body.error.issues)}`);
      assert.match(issue.message, message);
    }
  });
});

describe('dry run and backtest', () => {
  it('POST /api/automations/test renders the actions that would run and explains every bucket', async () => {
    const automation = {
      name: 'draft',
      trigger: { type: 'event', expect: ['order.created'], threshold: 2, within: 10, for_each: ['payload.region'] },
      actions: [{ type: 'call-webhook', url: 'http://127.0.0.1:9999/{{ labels["payload.region"] }}', body: '{"n": {{ trigger.count }}}' }],
    };
    const at = (s: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, s)).toISOString();
    const e = (s: number, region: string) => ({ event: 'order.created', occurred: at(s), resource: { 'reflex.resource.id': 'order.1' }, payload: { region } });
    const res = await t.api('POST', '/api/automations/test', { automation, events: [e(0, 'eu'), e(1, 'us'), e(2, 'eu')] });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.firings.length, 1);
    const f = res.body.firings[0];
    assert.deepEqual(f.triggering_labels, { 'payload.region': 'eu' });
    assert.equal(f.actions[0].status, 'would-run');
    assert.equal(f.actions[0].rendered.job.url, 'http://127.0.0.1:9999/eu');
    assert.equal(f.actions[0].rendered.job.body, '{"n": 2}');
    const us = res.body.buckets.find((b: { labels: Record<string, string> }) => b.labels['payload.region'] === 'us');
    assert.equal(us.fired, false);
    assert.equal(us.count, 1);
    assert.match(us.reason, /needs 2/);
    // Nothing was stored.
    assert.equal((await t.api('GET', '/api/automations')).body.items.some((a: { name: string }) => a.name === 'draft'), false);
  });

  it('a bad draft answers 400 with paths under automation', async () => {
    const res = await t.api('POST', '/api/automations/test', { automation: { name: 'x', trigger: { type: 'event', expect: ['a'], threshold: 'two' } }, events: [] });
    assert.equal(res.status, 400);
    assert.ok(res.body.error.issues.some((i: { path: string }) => i.path === 'automation.trigger.threshold'));
  });

  it('POST /api/automations/backtest replays stored events of a time range', async () => {
    const base = Date.now() - 60_000;
    const events = [0, 1, 2, 30].map((s) => ({ event: 'bt.ping', occurred: new Date(base + s * 1000).toISOString(), resource: { 'reflex.resource.id': 'bt.1' } }));
    assert.equal((await t.api('POST', '/api/events', events)).status, 202);
    await waitFor(async () => {
      const r = await t.api('POST', '/api/automations/backtest', {
        automation: { name: 'bt', trigger: { type: 'event', expect: ['bt.ping'], threshold: 3, within: 5 } },
        occurred_after: new Date(base - 1000).toISOString(),
        occurred_before: new Date(base + 40_000).toISOString(),
      });
      return r.body.events_evaluated === 4 && r;
    }, { what: 'recorded events' });
    const r = await t.api('POST', '/api/automations/backtest', {
      automation: { name: 'bt', trigger: { type: 'event', expect: ['bt.ping'], threshold: 3, within: 5 }, actions: [{ type: 'do-nothing' }] },
      occurred_after: new Date(base - 1000).toISOString(),
      occurred_before: new Date(base + 40_000).toISOString(),
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.firings.length, 1);
    assert.equal(r.body.firings[0].count, 3);
  });
});
