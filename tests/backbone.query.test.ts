import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { streamStoredEvents } from '../modules/events/event-table.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

type Stored = { id: string; event: string; occurred: string; received: string; resource: Record<string, string>; related: Record<string, string>[]; payload: Record<string, unknown>; follows: string | null };

const at = (hhmm: string) => `2024-03-01T${hhmm}:00.000Z`;
const res = (id: string, labels: Record<string, string> = {}) => ({ 'reflex.resource.id': id, ...labels });
const customer = (id: string) => ({ 'reflex.resource.id': id, 'reflex.resource.role': 'customer' });

/** Fixture: name → event; every test reads this fixed set (the namespace is the test's own). */
const FIXTURE = {
  created1: { event: 'order.created', occurred: at('10:00'), resource: res('order-1', { region: 'eu' }), related: [customer('customer-1')], payload: { total: 1 } },
  shipped1: { event: 'order.shipped', occurred: at('10:05'), resource: res('order-1', { region: 'eu' }), related: [customer('customer-1')] },
  created2: { event: 'order.created', occurred: at('10:10'), resource: res('order-2', { region: 'us' }), related: [customer('customer-2')] },
  paid: { event: 'invoice.paid', occurred: at('11:00'), resource: res('invoice-9', { region: 'eu', tier: 'gold' }) },
  orderly: { event: 'orderly.thing', occurred: at('11:30'), resource: res('order-x') },
  underscore: { event: 'a_b.c', occurred: at('11:40'), resource: res('u-1') },
  lookalike: { event: 'axb.c', occurred: at('11:40'), resource: res('u-2') },
  tie1: { event: 'tie.x', occurred: at('12:00'), resource: res('tie') },
  tie2: { event: 'tie.x', occurred: at('12:00'), resource: res('tie') },
  tie3: { event: 'tie.x', occurred: at('12:00'), resource: res('tie') },
} as const;
type Key = keyof typeof FIXTURE;

describe('event query API', () => {
  let t: TestEngine;
  const ids = {} as Record<Key, string>;
  const keyOf = new Map<string, Key>();

  before(async () => {
    t = await startTestEngine({ services: ['recorder', 'api'] });
    const batch = (Object.keys(FIXTURE) as Key[]).map((k) => {
      ids[k] = randomUUID();
      keyOf.set(ids[k], k);
      return { id: ids[k], ...FIXTURE[k] };
    });
    const posted = await t.api('POST', '/api/events', batch);
    assert.equal(posted.status, 202);
    await waitFor(async () => (await t.rt.pg.query('SELECT count(*)::int AS n FROM events')).rows[0].n === batch.length, { what: 'fixture stored' });
  });
  after(async () => {
    await t?.cleanup();
  });

  const filter = async (body: Record<string, unknown>) => {
    const r = await t.api<{ items: Stored[]; next_cursor: string | null }>('POST', '/api/events/filter', body);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const keys = async (body: Record<string, unknown>) => (await filter(body)).items.map((e) => keyOf.get(e.id)).sort();

  it('answers newest first, events exactly as emitted plus received', async () => {
    const page = await filter({});
    assert.equal(page.items.length, Object.keys(FIXTURE).length);
    assert.equal(page.next_cursor, null);
    const times = page.items.map((e) => e.occurred);
    assert.deepEqual(times, [...times].sort().reverse());
    const created1 = page.items.find((e) => e.id === ids.created1)!;
    assert.deepEqual(
      { event: created1.event, occurred: created1.occurred, resource: created1.resource, related: created1.related, payload: created1.payload, follows: created1.follows },
      { ...FIXTURE.created1, follows: null },
    );
    assert.ok(!Number.isNaN(Date.parse(created1.received)));
  });

  it('filters by event name, exact and prefix (order.* matches neither orderly.* nor a LIKE wildcard)', async () => {
    assert.deepEqual(await keys({ event: ['order.created'] }), ['created1', 'created2']);
    assert.deepEqual(await keys({ event: ['order.*'] }), ['created1', 'created2', 'shipped1']);
    assert.deepEqual(await keys({ event: ['order.shipped', 'invoice.*'] }), ['paid', 'shipped1']);
    assert.deepEqual(await keys({ event: ['a_b.*'] }), ['underscore']);
    assert.deepEqual(await keys({ event: 'tie.x' }), ['tie1', 'tie2', 'tie3']);
    assert.equal((await filter({ event: ['*'] })).items.length, Object.keys(FIXTURE).length);
  });

  it('filters by occurred range: after inclusive, before exclusive', async () => {
    assert.deepEqual(await keys({ occurred_after: at('10:05'), occurred_before: at('11:00') }), ['created2', 'shipped1']);
    assert.deepEqual(await keys({ occurred_after: at('11:40') }), ['lookalike', 'tie1', 'tie2', 'tie3', 'underscore']);
  });

  it('filters by resource id (exact and * prefix), related id and labels', async () => {
    assert.deepEqual(await keys({ resource_id: 'order-1' }), ['created1', 'shipped1']);
    assert.deepEqual(await keys({ resource_id: 'order-*' }), ['created1', 'created2', 'orderly', 'shipped1']);
    assert.deepEqual(await keys({ resource_id: ['invoice-9', 'order-2'] }), ['created2', 'paid']);
    assert.deepEqual(await keys({ related_id: 'customer-1' }), ['created1', 'shipped1']);
    assert.deepEqual(await keys({ labels: { region: 'eu' } }), ['created1', 'paid', 'shipped1']);
    assert.deepEqual(await keys({ labels: { region: 'eu', tier: 'gold' } }), ['paid']);
    assert.deepEqual(await keys({ labels: { region: ['us', 'nowhere'] } }), ['created2']);
    assert.deepEqual(await keys({ event: 'order.*', labels: { region: 'eu' }, related_id: 'customer-1', occurred_after: at('10:01') }), ['shipped1']);
  });

  it('pages with an opaque cursor, without skipping or repeating events of the same instant', async () => {
    const all = (await filter({ limit: 500 })).items.map((e) => e.id);
    for (const limit of [1, 3]) {
      const seen: string[] = [];
      let cursor: string | null | undefined;
      do {
        const page = await filter({ limit, ...(cursor ? { cursor } : {}) });
        assert.ok(page.items.length <= limit);
        seen.push(...page.items.map((e) => e.id));
        cursor = page.next_cursor;
      } while (cursor);
      assert.deepEqual(seen, all, `limit ${limit}`);
    }
  });

  it('rejects a bad filter with field paths', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ limit: 501 }, 'limit'],
      [{ cursor: 'not-a-cursor' }, 'cursor'],
      [{ event: ['bad name'] }, 'event'],
      [{ occurred_after: 'yesterday' }, 'occurred_after'],
      [{ labels: { region: 3 } }, 'labels.region'],
      [{ colour: 'red' }, ''],
    ];
    for (const [body, path] of cases) {
      const r = await t.api('POST', '/api/events/filter', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.ok(r.body.error.issues.some((i: { path: string }) => i.path.startsWith(path)), `${JSON.stringify(body)} → ${JSON.stringify(r.body.error.issues)}`);
    }
  });

  it('GET /api/events/:id answers the stored event, 404 when absent', async () => {
    const r = await t.api<Stored>('GET', `/api/events/${ids.paid}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.event, 'invoice.paid');
    assert.deepEqual(r.body.resource, FIXTURE.paid.resource);
    assert.equal((await t.api('GET', `/api/events/${randomUUID()}`)).status, 404);
    const notUuid = await t.api('GET', '/api/events/not-a-uuid');
    assert.equal(notUuid.status, 404);
    assert.equal(notUuid.body.error.code, 'not_found');
  });

  it('counts by event name and by resource, largest first', async () => {
    const byEvent = await t.api('POST', '/api/events/count-by', { by: 'event', event: ['order.*', 'tie.*'] });
    assert.equal(byEvent.status, 200);
    assert.deepEqual(byEvent.body.items, [
      { value: 'tie.x', count: 3 },
      { value: 'order.created', count: 2 },
      { value: 'order.shipped', count: 1 },
    ]);
    const byResource = await t.api('POST', '/api/events/count-by', { by: 'resource', labels: { region: 'eu' } });
    assert.deepEqual(byResource.body.items, [
      { value: 'order-1', count: 2 },
      { value: 'invoice-9', count: 1 },
    ]);
  });

  it('counts by time bucket, zero-filled over a closed range', async () => {
    const r = await t.api('POST', '/api/events/count-by', { by: 'time', interval: 'hour', occurred_after: at('09:00'), occurred_before: at('12:00') });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.items, [
      { value: at('09:00'), count: 0, start_time: at('09:00'), end_time: at('10:00') },
      { value: at('10:00'), count: 3, start_time: at('10:00'), end_time: at('11:00') },
      { value: at('11:00'), count: 4, start_time: at('11:00'), end_time: at('12:00') },
    ]);
    const quarter = await t.api('POST', '/api/events/count-by', { by: 'time', interval: 'minute', interval_count: 15, event: 'order.*' });
    assert.deepEqual(
      quarter.body.items.map((i: { value: string; count: number }) => [i.value, i.count]),
      [[at('10:00'), 3]],
    );
    const tooMany = await t.api('POST', '/api/events/count-by', { by: 'time', interval: 'second', occurred_after: at('00:00'), occurred_before: at('12:00') });
    assert.equal(tooMany.status, 400);
    const badBy = await t.api('POST', '/api/events/count-by', { by: 'colour' });
    assert.equal(badBy.status, 400);
    assert.equal(badBy.body.error.issues[0].path, 'by');
  });

  it('streamStoredEvents replays a time range oldest first in batches', async () => {
    const seen: string[] = [];
    for await (const e of streamStoredEvents(t.rt.pg, { occurred_after: at('10:00'), occurred_before: at('12:00') }, 2)) seen.push(keyOf.get(e.id)!);
    assert.deepEqual(seen.slice(0, 5), ['created1', 'shipped1', 'created2', 'paid', 'orderly']);
    assert.deepEqual(seen.slice(5).sort(), ['lookalike', 'underscore']);
  });
});
