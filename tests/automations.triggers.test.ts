import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAutomation, emit, firings, iso, settle, waitFirings, waitLoaded } from './support/automations.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';

// Every trigger kind live: real NATS, Redis and Postgres, asserted through the API.

let t: TestEngine;
before(async () => {
  t = await startTestEngine({ services: ['recorder', 'automations', 'api'] });
});
after(async () => {
  await t?.cleanup();
});

describe('reactive event triggers', () => {
  it('window edges in event time: `within` apart does not fire, inside does', async () => {
    const edge = await createAutomation(t, { name: 'edge', trigger: { type: 'event', expect: ['edge.a'], threshold: 2, within: 2 } });
    const inside = await createAutomation(t, { name: 'inside', trigger: { type: 'event', expect: ['edge.b'], threshold: 2, within: 2 } });
    const base = Date.now() - 60_000;
    const at = (ms: number) => new Date(base + ms).toISOString();
    await emit(t, [
      { event: 'edge.a', occurred: at(0) },
      { event: 'edge.a', occurred: at(2000) },
      { event: 'edge.b', occurred: at(0) },
      { event: 'edge.b', occurred: at(1999) },
    ]);
    const [f] = await waitFirings(t, inside, 1);
    assert.equal(f.count, 2);
    assert.equal(f.triggering_event?.occurred, at(1999));
    await settle(t);
    assert.equal((await firings(t, edge)).length, 0);
  });

  it('a re-delivered event (same id, new message) counts once', async () => {
    const id = await createAutomation(t, { name: 'dupes', trigger: { type: 'event', expect: ['dupe.x'], threshold: 2, within: 60 } });
    const eventId = '0190a6a0-0000-7000-8000-000000000001';
    await emit(t, [{ event: 'dupe.x', id: eventId }]);
    // The same event again under another message id, as after JetStream's duplicate window or a redelivery.
    const copy = { id: eventId, occurred: new Date().toISOString(), event: 'dupe.x', resource: { 'reflex.resource.id': 'test.thing' }, related: [], payload: {} };
    await t.rt.bus.js.publish(t.rt.names.eventSubject('dupe.x'), JSON.stringify(copy), { msgID: 'another-message-id' });
    await settle(t);
    assert.equal((await firings(t, id)).length, 0);
    await emit(t, [{ event: 'dupe.x' }]);
    await waitFirings(t, id, 1);
  });

  it('for_each splits counting into buckets reported as triggering_labels', async () => {
    const id = await createAutomation(t, {
      name: 'orders-per-region',
      trigger: { type: 'event', expect: ['shop.order'], threshold: 2, within: 30, for_each: ['payload.region'] },
    });
    await emit(t, [
      { event: 'shop.order', payload: { region: 'eu' } },
      { event: 'shop.order', payload: { region: 'us' } },
      { event: 'shop.order', payload: { region: 'eu' } },
    ]);
    const [f] = await waitFirings(t, id, 1);
    assert.deepEqual(f.triggering_labels, { 'payload.region': 'eu' });
    await settle(t);
    assert.equal((await firings(t, id)).length, 1);
  });

  it('match, match_related, after and json-logic condition all gate counting', async () => {
    const id = await createAutomation(t, {
      name: 'gated',
      trigger: {
        type: 'event',
        after: ['gate.open'],
        expect: ['gate.item'],
        match: { 'reflex.resource.id': 'gate.*', env: '!dev' },
        match_related: { 'reflex.resource.role': 'owner', 'reflex.resource.id': 'team.ops' },
        condition: { '>=': [{ var: 'event.payload.size' }, 10] },
        for_each: ['reflex.resource.id'],
        within: 60,
      },
    });
    const res = { 'reflex.resource.id': 'gate.1', env: 'prod' };
    const owner = [{ 'reflex.resource.id': 'team.ops', 'reflex.resource.role': 'owner' }];
    await emit(t, [
      { event: 'gate.item', resource: res, related: owner, payload: { size: 50 } }, // not armed yet
      { event: 'gate.open', resource: res, related: owner, payload: { size: 50 } },
      { event: 'gate.item', resource: { ...res, env: 'dev' }, related: owner, payload: { size: 50 } }, // match fails
      { event: 'gate.item', resource: res, related: [], payload: { size: 50 } }, // match_related fails
      { event: 'gate.item', resource: res, related: owner, payload: { size: 5 } }, // condition fails
    ]);
    await settle(t);
    assert.equal((await firings(t, id)).length, 0);
    await emit(t, [{ event: 'gate.item', resource: res, related: owner, payload: { size: 10 } }]);
    const [f] = await waitFirings(t, id, 1);
    assert.equal(f.triggering_event?.payload.size, 10);
  });

  it('a disabled automation does not fire; re-enabled it does', async () => {
    const id = await createAutomation(t, { name: 'toggle', trigger: { type: 'event', expect: ['toggle.x'] } });
    const off = await t.api('PATCH', `/api/automations/${id}`, { enabled: false });
    await waitLoaded([t], id, undefined, false);
    await emit(t, [{ event: 'toggle.x' }]);
    await settle(t);
    assert.equal((await firings(t, id)).length, 0);
    assert.equal(off.body.enabled, false);
    const on = await t.api('PATCH', `/api/automations/${id}`, { enabled: true });
    await waitLoaded([t], id, on.body.updated);
    await emit(t, [{ event: 'toggle.x' }]);
    await waitFirings(t, id, 1);
  });
});

describe('proactive triggers', () => {
  it('fire within a second of the deadline with no events at all', async () => {
    const id = await createAutomation(t, { name: 'silence', trigger: { type: 'event', expect: ['silence.hb'], posture: 'Proactive', within: 1 } });
    const [f] = await waitFirings(t, id, 1, 'proactive firing', 5000);
    assert.equal(f.triggering_event, null);
    assert.ok(f.window_end);
    const late = Date.parse(f.fired_at) - Date.parse(f.window_end!);
    assert.ok(late >= 0 && late < 1000, `fired ${late} ms after the deadline`);
    await t.api('PATCH', `/api/automations/${id}`, { enabled: false });
  });

  it('heartbeat per resource: fires after silence, resolves (actions_on_resolve) on the next heartbeat', async () => {
    const id = await createAutomation(t, {
      name: 'heartbeat',
      trigger: { type: 'event', after: ['hb.beat'], expect: ['hb.beat'], posture: 'Proactive', within: 1, for_each: ['reflex.resource.id'] },
      actions: [{ type: 'do-nothing' }],
      actions_on_resolve: [{ type: 'do-nothing' }, { type: 'do-nothing' }],
    });
    await emit(t, [{ event: 'hb.beat', resource: { 'reflex.resource.id': 'worker.1' } }]);
    await emit(t, [{ event: 'hb.beat', resource: { 'reflex.resource.id': 'worker.2' } }]);
    const fired = await waitFirings(t, id, 2, 'two silence firings', 6000);
    assert.deepEqual(fired.map((f) => f.triggering_labels['reflex.resource.id']).sort(), ['worker.1', 'worker.2']);
    assert.ok(fired.every((f) => f.state === 'triggered' && f.triggering_event?.event === 'hb.beat'));
    await emit(t, [{ event: 'hb.beat', resource: { 'reflex.resource.id': 'worker.1' } }]);
    const all = await waitFirings(t, id, 3);
    assert.equal(all[0].state, 'resolved');
    assert.equal(all[0].actions.length, 2);
  });
});

describe('composite triggers', () => {
  const child = (name: string) => ({ type: 'event', expect: [name] });
  it('compound all / any / N', async () => {
    const all = await createAutomation(t, { name: 'c-all', trigger: { type: 'compound', require: 'all', within: 30, triggers: [child('ca.a'), child('ca.b')] } });
    const any = await createAutomation(t, { name: 'c-any', trigger: { type: 'compound', require: 'any', triggers: [child('ca.a'), child('ca.b')] } });
    const two = await createAutomation(t, { name: 'c-two', trigger: { type: 'compound', require: 2, triggers: [child('ca.a'), child('ca.b'), child('ca.c')] } });
    await emit(t, [{ event: 'ca.a' }, { event: 'ca.a' }]);
    await waitFirings(t, any, 2);
    await settle(t);
    assert.equal((await firings(t, all)).length, 0);
    assert.equal((await firings(t, two)).length, 0);
    await emit(t, [{ event: 'ca.c' }]);
    await waitFirings(t, two, 1);
    await emit(t, [{ event: 'ca.b' }]);
    await waitFirings(t, all, 1);
    await settle(t);
    assert.equal((await firings(t, all)).length, 1);
  });

  it('compound within is measured on event time', async () => {
    const id = await createAutomation(t, { name: 'c-old', trigger: { type: 'compound', require: 'all', within: 5, triggers: [child('co.a'), child('co.b')] } });
    await emit(t, [{ event: 'co.a', occurred: iso(-60_000) }, { event: 'co.b' }]);
    await settle(t);
    assert.equal((await firings(t, id)).length, 0);
  });

  it('sequence fires only in order', async () => {
    const seq = { type: 'sequence', within: 60, triggers: [child('sq.a'), child('sq.b'), child('sq.c')] };
    const id = await createAutomation(t, { name: 'seq', trigger: seq });
    const at = (s: number) => iso(-30_000 + s * 1000);
    await emit(t, [{ event: 'sq.a', occurred: at(0) }, { event: 'sq.c', occurred: at(1) }, { event: 'sq.b', occurred: at(2) }]);
    await settle(t);
    assert.equal((await firings(t, id)).length, 0);
    await emit(t, [{ event: 'sq.c', occurred: at(3) }]);
    const [f] = await waitFirings(t, id, 1);
    assert.equal(f.triggering_event?.event, 'sq.c');
  });
});
