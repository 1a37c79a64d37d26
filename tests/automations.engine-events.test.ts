import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { isConsumerNotFound } from '../infra/nats-errors.ts';
import { createAutomation, emit, engineSettled, firings, settle, waitFirings } from './support/automations.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

// The engine's own events (`reflex.*`) live on a subject tree of their own: the automations consumer of
// users' events never receives them, the recorder records them, and a second consumer reads them only
// while an automation can match one, shared by the replicas (each such event evaluated once).

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

const engineConsumer = async (e: TestEngine) =>
  e.rt.bus.jsm.consumers.info(e.rt.names.streams.events, e.rt.names.consumers.automationsEngine).catch((err: unknown) => {
    if (isConsumerNotFound(err)) return null;
    throw err;
  });

describe('engine events on their own subject tree', () => {
  it('users’ events and the engine’s are stored on two trees; the users’ consumer reads one, the recorder both', async () => {
    const n = t.rt.names;
    assert.equal(n.eventSubject('tree.order'), `${n.namespace}.events.tree.order`);
    assert.equal(n.eventSubject('reflex.automation.triggered'), `${n.namespace}.engine.reflex.automation.triggered`);
    assert.equal(n.eventNameFromSubject(n.eventSubject('reflex.automation.triggered')), 'reflex.automation.triggered');
    assert.equal(n.eventFilterSubject('reflex.flow-run.*'), `${n.namespace}.engine.reflex.flow-run.>`);
    assert.deepEqual(n.eventFilterSubjects('*'), [n.eventTrees.users, n.eventTrees.engine]);
    assert.throws(() => n.eventFilterSubject('*'), /both event subject trees/);

    const stream = await t.rt.bus.jsm.streams.info(n.streams.events);
    assert.deepEqual(stream.config.subjects, [n.eventTrees.users, n.eventTrees.engine]);
    const users = await t.rt.bus.jsm.consumers.info(n.streams.events, n.consumers.automations);
    assert.equal(users.config.filter_subject, n.eventTrees.users);
    const recorder = await t.rt.bus.jsm.consumers.info(n.streams.events, n.consumers.recorder);
    assert.ok(!recorder.config.filter_subject, 'the recorder reads the whole stream');
    // No automation can match an engine event: nobody reads the engine's tree.
    assert.equal(await engineConsumer(t), null);

    const id = await createAutomation(t, { name: 'tree-user', trigger: { type: 'event', expect: ['tree.order'] } }, [t, replica]);
    const [eventId] = await emit(t, [{ event: 'tree.order' }]);
    const [f] = await waitFirings(t, id, 1);
    // The firing's outcome events are recorded (from the engine's tree) next to the user's event.
    const recorded = async () =>
      (await t.rt.pg.query<{ event: string }>(`SELECT event FROM events WHERE id = $1 OR payload->>'firing_id' = $2 ORDER BY event`, [eventId, f.id])).rows.map((r) => r.event);
    await waitFor(async () => (await recorded()).length >= 3, { what: 'the event and its outcome events recorded' });
    assert.deepEqual(await recorded(), ['reflex.automation.action.executed', 'reflex.automation.triggered', 'tree.order']);
    const subjects = (await t.rt.bus.jsm.streams.info(n.streams.events, { subjects_filter: n.eventTrees.engine })).state.subjects ?? {};
    assert.ok((subjects[n.eventSubject('reflex.automation.triggered')] ?? 0) >= 1, 'the triggered event is on the engine tree');
    await t.api('DELETE', `/api/automations/${id}`);
  });

  it('a consumer made before the engine tree existed (no filter) is narrowed in place, keeping its position', async () => {
    const n = t.rt.names;
    const durable = `${n.namespace}_upgrade`;
    await t.rt.bus.jsm.consumers.add(n.streams.events, { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New });
    const before = await t.rt.bus.jsm.consumers.info(n.streams.events, durable);
    await t.rt.bus.consumer(durable, { filter: n.eventTrees.users });
    const after = await t.rt.bus.jsm.consumers.info(n.streams.events, durable);
    assert.equal(after.config.filter_subject, n.eventTrees.users);
    assert.equal(after.created, before.created, 'the same consumer, not a new one');
    await t.rt.bus.jsm.consumers.delete(n.streams.events, durable);
  });

  it('an automation on an engine event sees each one once across two replicas; its consumer goes when it does', async () => {
    const engines = [t, replica];
    const source = await createAutomation(t, { name: 'tree-source', trigger: { type: 'event', expect: ['tree.tick'] } }, engines);
    const watcher = await createAutomation(t, {
      name: 'tree-watcher',
      trigger: { type: 'event', expect: ['reflex.automation.triggered'], match: { 'reflex.resource.id': `reflex.automation.${source}` } },
    }, engines);
    const info = await engineConsumer(t);
    assert.ok(info, 'the engine consumer exists while an automation watches engine events');
    assert.equal(info.config.filter_subject, t.rt.names.eventTrees.engine);

    // 40 events in 20 concurrent requests, so both replicas take a share of both consumers.
    await Promise.all(Array.from({ length: 20 }, (_, r) => emit(t, [{ event: 'tree.tick', payload: { r } }, { event: 'tree.tick', payload: { r } }])));
    await waitFirings(t, source, 40, '40 source firings', 20_000);
    await waitFirings(t, watcher, 40, '40 watcher firings', 20_000);
    await settle(t, engines);
    await engineSettled(t);
    const seen = await firings(t, watcher);
    assert.equal(seen.length, 40, 'one watcher firing per source firing');
    assert.equal(new Set(seen.map((f) => f.triggering_event?.id)).size, 40, 'each triggered event fired the watcher once');

    await t.api('DELETE', `/api/automations/${watcher}`);
    await waitFor(async () => (await engineConsumer(t)) === null, { what: 'the engine consumer deleted once no automation watches engine events' });

    // A new watcher gets a new consumer and misses nothing published after it was saved.
    const again = await createAutomation(t, { name: 'tree-watcher-2', trigger: { type: 'event', expect: ['reflex.automation.action.executed'], match_related: { 'reflex.resource.id': `reflex.automation.${source}` } } }, engines);
    await waitFor(async () => (await engineConsumer(t)) !== null, { what: 'the engine consumer made again' });
    const before = (await firings(t, source)).length;
    await emit(t, [{ event: 'tree.tick' }, { event: 'tree.tick' }, { event: 'tree.tick' }]);
    await waitFirings(t, source, before + 3);
    await waitFirings(t, again, 3, 'the new watcher sees the three new outcome events');
    await settle(t, engines);
    await engineSettled(t);
    const outcomes = new Set((await firings(t, again)).map((f) => f.triggering_event?.id));
    assert.equal((await firings(t, again)).length, outcomes.size, 'no outcome event fired it twice');
    await t.api('DELETE', `/api/automations/${again}`);
    await t.api('DELETE', `/api/automations/${source}`);
  });
});
