import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { stateKeys } from '../core/names.ts';
import { RedisStateStore } from '../modules/automations/redis-state-store.ts';
import { createAutomation, emit, firings, settle, waitFirings, type FiringView } from './support/automations.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

// Flow control against the real services: two automation replicas share the durable consumer and the
// Redis state, so each window, batch, slot and drop happens exactly once; a restart in the middle of a
// debounce window or a batch loses none of its events.

type FlowFiring = FiringView & { flow_control: { mode: string; key: string; reason: string; due: string | null; event_ids?: string[] } | null };

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

const count = async (event: string) => (await t.rt.pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE event = $1`, [event])).rows[0].n;

describe('flow control with two replicas', () => {
  it('batches per key: every event lands in exactly one batch', async () => {
    const id = await createAutomation(t, {
      name: 'fc-batch',
      trigger: { type: 'event', expect: ['fc.batch'] },
      flow_control: { batch: { key: '{{ event.payload.k }}', max_size: 5, timeout: 3600 } },
    }, [t, replica]);
    // 10 keys x 5 events, as 10 concurrent requests so both replicas get a share of every key.
    const requests = Array.from({ length: 10 }, (_, r) => Array.from({ length: 5 }, (_, i) => ({ event: 'fc.batch', payload: { k: `k${(r + i * 3) % 10}` } })));
    const ids = (await Promise.all(requests.map((events) => emit(t, events)))).flat();
    await waitFirings(t, id, 10, '10 batches', 20_000);
    await settle(t, [t, replica]);
    const fs = (await firings(t, id)) as FlowFiring[];
    assert.equal(fs.length, 10);
    assert.ok(fs.every((f) => f.state === 'triggered' && f.count === 5 && f.flow_control?.reason === 'max_size (5)'));
    assert.deepEqual(new Set(fs.map((f) => f.flow_control!.key)).size, 10);
    const batched = fs.flatMap((f) => f.flow_control!.event_ids!);
    assert.deepEqual([...batched].sort(), [...ids].sort(), 'each event in exactly one batch');
  });

  it('rate limit: exactly limit pass, the rest are recorded as rate-limited with an event', async () => {
    const id = await createAutomation(t, {
      name: 'fc-rate',
      trigger: { type: 'event', expect: ['fc.rate'] },
      flow_control: { rate_limit: { limit: 3, period: 3600 } },
    }, [t, replica]);
    await Promise.all(Array.from({ length: 10 }, () => emit(t, [{ event: 'fc.rate' }, { event: 'fc.rate' }])));
    await waitFirings(t, id, 20, '20 firings', 20_000);
    await settle(t, [t, replica]);
    const fs = (await firings(t, id)) as FlowFiring[];
    assert.equal(fs.length, 20);
    assert.equal(fs.filter((f) => f.state === 'triggered').length, 3);
    const dropped = fs.filter((f) => f.state === 'rate-limited');
    assert.equal(dropped.length, 17);
    assert.ok(dropped.every((f) => f.actions.length === 0 && /rate limit/.test(f.flow_control!.reason)));
    await waitFor(async () => (await count('reflex.automation.rate-limited')) >= 17, { what: '17 rate-limited events' });
    assert.equal(await count('reflex.automation.rate-limited'), 17);
  });

  it('throttle: every action runs, at most limit per period, none twice', async () => {
    const id = await createAutomation(t, {
      name: 'fc-throttle',
      trigger: { type: 'event', expect: ['fc.throttle'] },
      flow_control: { throttle: { limit: 2, period: 1 } },
    }, [t, replica]);
    await Promise.all(Array.from({ length: 3 }, () => emit(t, [{ event: 'fc.throttle' }, { event: 'fc.throttle' }])));
    await waitFirings(t, id, 6, '6 throttled firings', 20_000);
    await settle(t, [t, replica]);
    const fs = (await firings(t, id)) as FlowFiring[];
    assert.equal(fs.length, 6);
    const due = fs.map((f) => Date.parse(f.flow_control!.due!)).sort((a, b) => a - b);
    for (let i = 2; i < due.length; i++) assert.ok(due[i] - due[i - 2] >= 1000, `slots ${due.join(', ')}`);
    for (const f of fs) assert.ok(Date.parse(f.fired_at) >= Date.parse(f.flow_control!.due!), 'never before its slot');
  });
});

describe('flow control across a restart', () => {
  let engines: TestEngine[] = [];
  const startAutomations = async () => {
    const e = await startTestEngine({ services: ['automations'], namespace: t.config.namespace });
    engines.push(e);
    return e;
  };
  after(async () => {
    for (const e of engines) await e.stop();
  });

  // The debounce window is in event time: it must outlast a late delivery (what a replica stopped a moment
  // ago was handed comes back after ack_wait, 8 s) plus the
  // restart below, or the window closes as the late events arrive and nothing is held to survive it.
  const DEBOUNCE_PERIOD = 20;

  /** Waits until the flow state of an automation's single key holds n events. */
  const waitHeld = (id: string, n: number) => {
    const store = new RedisStateStore(t.rt.redis, t.rt.names);
    return waitFor(async () => {
      const s = (await store.load([stateKeys.flow(id, '')])).get(stateKeys.flow(id, ''))?.value as { held?: unknown[] } | undefined;
      return (s?.held?.length ?? 0) >= n ? true : null;
      // A replica stopped a moment ago may still have pull requests open at the server; what it is handed
      // comes back after ack_wait (8 s), so allow for that beyond the evaluation itself.
    }, { what: `${n} events held`, timeoutMs: 60_000 });
  };

  it('a debounce window and a batch keep their events when every replica restarts mid-window', async () => {
    // Only the private replicas evaluate: the shared ones stop first.
    await replica.stop();
    await t.services.find((s) => s.name === 'automations')!.stop();
    let a = await startAutomations();
    const deb = await createAutomation(t, { name: 'fc-restart-debounce', trigger: { type: 'event', expect: ['fc.deb'] }, flow_control: { debounce: { period: DEBOUNCE_PERIOD } } }, [a]);
    const bat = await createAutomation(t, { name: 'fc-restart-batch', trigger: { type: 'event', expect: ['fc.bat'] }, flow_control: { batch: { max_size: 4, timeout: 3600 } } }, [a]);
    const before = [...(await emit(t, [{ event: 'fc.deb' }, { event: 'fc.deb' }])), ...(await emit(t, [{ event: 'fc.bat' }, { event: 'fc.bat' }]))];
    await Promise.all([waitHeld(deb, 2), waitHeld(bat, 2)]);
    await a.stop();
    // Down: these wait in the stream.
    const during = [...(await emit(t, [{ event: 'fc.deb' }])), ...(await emit(t, [{ event: 'fc.bat' }, { event: 'fc.bat' }]))];
    a = await startAutomations();
    const [d] = (await waitFirings(t, deb, 1, 'the debounced firing', (DEBOUNCE_PERIOD + 25) * 1000)) as FlowFiring[];
    const [b] = (await waitFirings(t, bat, 1, 'the batch', 15_000)) as FlowFiring[];
    assert.deepEqual([...d.flow_control!.event_ids!].sort(), [before[0], before[1], during[0]].sort());
    assert.match(d.flow_control!.reason, /quiet period/);
    assert.deepEqual([...b.flow_control!.event_ids!].sort(), [before[2], before[3], during[1], during[2]].sort());
    await settle(t, [a]);
    assert.equal((await firings(t, deb)).length, 1);
    assert.equal((await firings(t, bat)).length, 1);
  });

  it('throttled firings waiting their turn fire once each, in their slots, when every replica restarts before they are due', async () => {
    // The replicas of the test above stop first: only the one started here evaluates.
    for (const e of engines.splice(0)) await e.stop();
    let a = await startAutomations();
    const id = await createAutomation(t, { name: 'fc-restart-throttle', trigger: { type: 'event', expect: ['fc.thr'] }, flow_control: { throttle: { limit: 1, period: 3 } } }, [a]);
    await emit(t, [{ event: 'fc.thr' }, { event: 'fc.thr' }, { event: 'fc.thr' }]);
    // One fires in the first slot; two wait in the key's queue, due 3 s and 6 s later.
    const store = new RedisStateStore(t.rt.redis, t.rt.names);
    await waitFor(async () => {
      const s = (await store.load([stateKeys.flow(id, '')])).get(stateKeys.flow(id, ''))?.value as { queue?: unknown[] } | undefined;
      return (s?.queue?.length ?? 0) === 2 ? true : null;
    }, { what: 'two throttled firings queued', timeoutMs: 30_000 });
    await a.stop();
    engines.splice(engines.indexOf(a), 1);
    a = await startAutomations();
    await waitFirings(t, id, 3, 'the three throttled firings', 30_000);
    await settle(t, [a]);
    const fs = (await firings(t, id)) as FlowFiring[];
    assert.equal(fs.length, 3, 'none fired twice');
    const due = fs.map((f) => Date.parse(f.flow_control!.due!)).sort((x, y) => x - y);
    for (let i = 1; i < due.length; i++) assert.ok(due[i] - due[i - 1] >= 3000, `one per 3 s slot: ${due.join(', ')}`);
    for (const f of fs) assert.ok(Date.parse(f.fired_at) >= Date.parse(f.flow_control!.due!), 'never before its slot');
  });
});

describe('flow control over the API', () => {
  const base = { name: 'fc-api', trigger: { type: 'event', expect: ['fc.api'] }, actions: [{ type: 'do-nothing' }] };
  const cases: [unknown, string][] = [
    [{ debounce: { period: 0 } }, 'flow_control.debounce.period'],
    [{ throttle: { limit: 0, period: 1 } }, 'flow_control.throttle.limit'],
    [{ batch: { max_size: 2, timeout: 1, key: '{{ event.payload.k' } }, 'flow_control.batch.key'],
    [{ batch: { max_size: 1001, timeout: 1 } }, 'flow_control.batch.max_size'],
  ];
  for (const [flow_control, path] of cases) {
    it(`POST /api/automations and /test refuse ${JSON.stringify(flow_control)} at ${path}`, async () => {
      const res = await t.api('POST', '/api/automations', { ...base, flow_control });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.ok(JSON.stringify(res.body).includes(path), JSON.stringify(res.body));
      const dry = await t.api('POST', '/api/automations/test', { automation: { ...base, flow_control }, events: [] });
      assert.equal(dry.status, 400, JSON.stringify(dry.body));
      assert.ok(JSON.stringify(dry.body).includes(`automation.${path}`), JSON.stringify(dry.body));
    });
  }

  it('the dry run answers what flow control did and why', async () => {
    const now = Date.now();
    const at = (s: number) => new Date(now - 60_000 + s * 1000).toISOString();
    const ev = (s: number, k: string) => ({ id: crypto.randomUUID(), occurred: at(s), event: 'fc.api', resource: { 'reflex.resource.id': 'x' }, payload: { k } });
    const res = await t.api('POST', '/api/automations/test', {
      automation: { ...base, flow_control: { debounce: { period: 5, key: { var: 'event.payload.k' } } } },
      events: [ev(0, 'a'), ev(1, 'b'), ev(2, 'a'), ev(20, 'a')],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.flow_control.map((d: { key: string; decision: string }) => [d.key, d.decision]), [['a', 'debounced'], ['b', 'debounced'], ['a', 'debounced'], ['a', 'debounced']]);
    assert.deepEqual(res.body.firings.map((f: { count: number; flow_control: { key: string } }) => [f.flow_control.key, f.count]), [['b', 1], ['a', 2], ['a', 1]]);
  });
});
