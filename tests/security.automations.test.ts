import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAutomation, emit, firings } from './support/automations.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/**
 * Automation documents as an attacker writes them: a window that never advances (one dry run looped
 * forever at 100 % CPU and the engine stopped answering), windows that overflow a date, triggers that
 * match everything and multiply every event by their own outcome events.
 */

describe('hostile automations', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['recorder', 'automations', 'api'] });
  });
  after(async () => {
    await t?.cleanup();
  });

  const proactiveInCompound = (within: number) => ({
    name: 'tiny-window',
    trigger: { type: 'compound', require: 'all', triggers: [{ type: 'event', expect: ['tw.a'], posture: 'Proactive', within }, { type: 'event', expect: ['tw.b'] }] },
    actions: [{ type: 'do-nothing' }],
  });

  it('refuses windows too small to advance or too large for a date, in the dry run and at save', async () => {
    for (const within of [1e-9, 0.5, 1e13, 31 * 24 * 3600 + 1]) {
      const test = await t.api('POST', '/api/automations/test', { automation: proactiveInCompound(within), events: [] });
      assert.equal(test.status, 400, `within ${within}: ${JSON.stringify(test.body)}`);
      assert.ok(test.body.error.issues.some((i: { path: string }) => i.path === 'automation.trigger.triggers[0].within'), JSON.stringify(test.body.error.issues));
      const save = await t.api('POST', '/api/automations', proactiveInCompound(within));
      assert.equal(save.status, 400, `within ${within}`);
      assert.ok(save.body.error.issues.some((i: { path: string }) => i.path === 'trigger.triggers[0].within'));
    }
    const compound = await t.api('POST', '/api/automations', { ...proactiveInCompound(10), trigger: { ...proactiveInCompound(10).trigger, within: 1e13 } });
    assert.equal(compound.status, 400);
    assert.ok(compound.body.error.issues.some((i: { path: string }) => i.path === 'trigger.within'));
  });

  it('bounds a dry run over a far `until` and keeps the engine answering meanwhile', async () => {
    const started = Date.now();
    const until = new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000).toISOString();
    const running = t.api('POST', '/api/automations/test', { automation: proactiveInCompound(1), events: [], until });
    const health: number[] = [];
    let done = false;
    void running.finally(() => (done = true));
    while (!done) {
      const t0 = performance.now();
      assert.equal((await t.api('GET', '/api/health')).status, 200);
      health.push(performance.now() - t0);
    }
    const res = await running;
    const elapsed = Date.now() - started;
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
    assert.equal(res.body.truncated, true);
    assert.match(res.body.truncated_reason, /stopped/);
    assert.ok(elapsed < 15_000, `the dry run ended in ${elapsed} ms`);
    assert.ok(health.length > 0 && Math.max(...health) < 1000, `health answered in at most ${Math.round(Math.max(...health))} ms while it ran`);
  });

  it('refuses triggers that match every event, however the match-all is spelt', async () => {
    const everything = [
      { expect: ['*'] },
      { expect: ['**'] },
      { expect: ['*', '!order.created'] },
      { expect: ['!order.created'] },
      { match: { 'reflex.resource.id': '*' } },
      { match: { 'reflex.resource.id': ['*'] }, expect: ['*'] },
    ];
    for (const filter of everything) {
      const res = await t.api('POST', '/api/automations', { name: 'all', trigger: { type: 'event', ...filter }, actions: [{ type: 'do-nothing' }] });
      assert.equal(res.status, 400, JSON.stringify(filter));
      assert.match(res.body.error.message, /matches every event/);
    }
  });

  it('one event through eight catch-all automations makes eight firings, not millions', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await createAutomation(t, { name: `fan-${i}`, trigger: { type: 'event', match: { tenant: '*' } }, actions: [{ type: 'do-nothing' }] }));
    const [root] = await emit(t, [{ event: 'fan.out', resource: { 'reflex.resource.id': 'fan.thing', tenant: 'acme' } }]);
    const count = async () => (await t.rt.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM events')).rows[0].n;
    // Each firing emits a triggered and an action event: 1 + 8 + 8.
    await waitFor(async () => (await count()) >= 17, { timeoutMs: 15_000, what: '17 events stored' });
    // Quiet: both consumers have nothing left to deliver or acknowledge, so every caused event was seen.
    await waitFor(
      async () => {
        for (const durable of [t.rt.names.consumers.recorder, t.rt.names.consumers.automations]) {
          const info = await t.rt.bus.jsm.consumers.info(t.rt.names.streams.events, durable);
          if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
        }
        return true;
      },
      { what: 'the consumers to be idle' },
    );
    assert.equal(await count(), 17);
    for (const id of ids) {
      const f = await firings(t, id);
      assert.equal(f.length, 1, `automation ${id} fired once`);
      assert.equal(f[0].triggering_event?.id, root);
    }
  });

  it('an automation that names engine events still sees them', async () => {
    const watched = await createAutomation(t, { name: 'watched', trigger: { type: 'event', expect: ['watch.me'] } });
    const watcher = await createAutomation(t, {
      name: 'watcher',
      trigger: { type: 'event', expect: ['reflex.automation.*'], match: { 'reflex.resource.id': `reflex.automation.${watched}` } },
    });
    await emit(t, [{ event: 'watch.me' }]);
    await waitFor(async () => (await firings(t, watcher)).length > 0, { what: 'the watcher to fire on the triggered event' });
    const f = await firings(t, watcher);
    assert.ok(f.every((x) => x.triggering_event?.event.startsWith('reflex.automation.')));
  });

  it('answers a bad firings cursor and a condition nested thousands deep with 400', async () => {
    const id = await createAutomation(t, { name: 'cursor', trigger: { type: 'event', expect: ['c.x'] } });
    for (const cursor of ['garbage', 'x|y', '2024-01-01T00:00:00Z|not-a-uuid', '2024-01-01T00:00:00Z|00000000-0000-4000-8000-000000000000|z']) {
      const res = await t.api('GET', `/api/automations/${id}/firings?cursor=${encodeURIComponent(cursor)}`);
      assert.equal(res.status, 400, cursor);
      assert.equal(res.body.error.issues[0].path, 'cursor');
    }
    const deep = '{"!":['.repeat(5000) + 'true' + ']}'.repeat(5000);
    const body = `{"name":"deep","trigger":{"type":"event","expect":["d.x"],"condition":${deep}}}`;
    const res = await t.api('POST', '/api/automations', body, { 'content-type': 'application/json' });
    assert.equal(res.status, 400);
  });
});
