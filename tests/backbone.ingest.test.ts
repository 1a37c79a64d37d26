import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { systemEvent } from '../core/events.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

const MAX_PAYLOAD = 2048;
const MAX_BODY = 256 * 1024;

describe('event ingest → NATS → Postgres', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['recorder', 'api'], config: { maxPayloadBytes: MAX_PAYLOAD, maxBodyBytes: MAX_BODY } });
  });
  after(async () => {
    await t?.cleanup();
  });

  const stored = (id: string) => waitFor(async () => (await t.rt.pg.query('SELECT * FROM events WHERE id = $1', [id])).rows[0], { what: `stored event ${id}` });
  const rowCount = async (where: string, args: unknown[]) => (await t.rt.pg.query(`SELECT count(*)::int AS n FROM events WHERE ${where}`, args)).rows[0].n as number;

  it('stores a posted event and answers 202 with its id', async () => {
    const res = await t.api('POST', '/api/events', {
      event: 'order.created',
      resource: { 'reflex.resource.id': 'order-1', region: 'eu' },
      payload: { total: 42 },
    });
    assert.equal(res.status, 202);
    assert.equal(res.body.ids.length, 1);
    const row = await stored(res.body.ids[0]);
    assert.equal(row.event, 'order.created');
    assert.equal(row.resource_id, 'order-1');
    assert.deepEqual(row.resource, { 'reflex.resource.id': 'order-1', region: 'eu' });
    assert.deepEqual(row.payload, { total: 42 });
    assert.deepEqual(row.related, []);
    // Defaults: a UUID v7 id and occurred ≈ now.
    assert.match(res.body.ids[0], /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    assert.ok(Math.abs(row.occurred.getTime() - Date.now()) < 60_000);
  });

  it('stores a batch with the ids, times and follows the client gave', async () => {
    const first = randomUUID();
    const batch = [
      { id: first, occurred: '2024-05-01T12:00:00+02:00', event: 'batch.one', resource: { 'reflex.resource.id': 'b' } },
      { event: 'batch.two', resource: { 'reflex.resource.id': 'b' }, follows: first, related: [{ 'reflex.resource.id': 'x', 'reflex.resource.role': 'parent' }] },
    ];
    const res = await t.api('POST', '/api/events', batch);
    assert.equal(res.status, 202);
    assert.equal(res.body.ids[0], first);
    assert.equal((await stored(first)).occurred.toISOString(), '2024-05-01T10:00:00.000Z');
    const second = await stored(res.body.ids[1]);
    assert.equal(second.follows, first);
    assert.deepEqual(second.related, batch[1].related);
  });

  it('publishes each event to <namespace>.events.<name> with the event JSON as data', async () => {
    const sub = t.rt.nats.subscribe(`${t.config.namespace}.events.wire.>`, { max: 1 });
    const res = await t.api('POST', '/api/events', { event: 'wire.check', resource: { 'reflex.resource.id': 'w' }, payload: { a: 1 } });
    for await (const m of sub) {
      assert.equal(m.subject, `${t.config.namespace}.events.wire.check`);
      const data = m.json<Record<string, unknown>>();
      assert.deepEqual(Object.keys(data).sort(), ['event', 'id', 'occurred', 'payload', 'related', 'resource']);
      assert.equal(data.id, res.body.ids[0]);
      assert.equal(m.headers?.get('Nats-Msg-Id'), res.body.ids[0]);
    }
  });

  it('is idempotent: the same id emitted twice is stored once, and JetStream reports the duplicate', async () => {
    const event = { id: randomUUID(), event: 'idem.test', resource: { 'reflex.resource.id': 'i' }, payload: { n: 1 } };
    assert.equal((await t.api('POST', '/api/events', event)).status, 202);
    assert.equal((await t.api('POST', '/api/events', event)).status, 202);
    const direct = await t.rt.bus.publish(systemEvent('idem.test', { 'reflex.resource.id': 'i' }, { id: event.id }));
    assert.equal(direct.duplicate, true);
    // The recorder handles the stream in order: once a later event is stored, a duplicate would be too.
    const sentinel = await t.api('POST', '/api/events', { event: 'idem.sentinel', resource: { 'reflex.resource.id': 'i' } });
    await stored(sentinel.body.ids[0]);
    assert.equal(await rowCount('id = $1', [event.id]), 1);
  });

  it('rejects every kind of invalid event with 400 and the field path, storing nothing', async () => {
    const ok = { event: 'valid.event', resource: { 'reflex.resource.id': 'r' } };
    const cases: Array<[string, unknown, string]> = [
      ['invalid name', { ...ok, event: 'order created' }, 'event'],
      ['name with a wildcard', { ...ok, event: 'order.*' }, 'event'],
      ['empty name part', { ...ok, event: 'order..created' }, 'event'],
      ['missing resource id', { ...ok, resource: { region: 'eu' } }, 'resource.reflex.resource.id'],
      ['non-string label', { ...ok, resource: { 'reflex.resource.id': 'r', n: 1 } }, 'resource.n'],
      ['related without role', { ...ok, related: [{ 'reflex.resource.id': 'x' }] }, 'related[0].reflex.resource.role'],
      ['bad uuid', { ...ok, id: 'not-a-uuid' }, 'id'],
      ['bad follows', { ...ok, follows: '123' }, 'follows'],
      ['bad occurred', { ...ok, occurred: 'yesterday' }, 'occurred'],
      ['non-object payload', { ...ok, payload: [1, 2] }, 'payload'],
      ['string payload', { ...ok, payload: 'hello' }, 'payload'],
      ['unknown field', { ...ok, colour: 'red' }, ''],
      ['not an object', 42, ''],
    ];
    for (const [what, body, path] of cases) {
      const res = await t.api('POST', '/api/events', body);
      assert.equal(res.status, 400, what);
      assert.equal(res.body.error.code, 'invalid_request', what);
      const paths = res.body.error.issues.map((i: { path: string }) => i.path);
      assert.ok(paths.includes(path), `${what}: ${JSON.stringify(paths)}`);
    }
    assert.equal(await rowCount("event = 'valid.event'", []), 0);
  });

  it('rejects a batch with one invalid event whole, naming each field path', async () => {
    const res = await t.api('POST', '/api/events', [
      { event: 'ok.event', resource: { 'reflex.resource.id': 'r' } },
      { event: 'bad name', resource: {} },
    ]);
    assert.equal(res.status, 400);
    const paths = res.body.error.issues.map((i: { path: string }) => i.path);
    assert.ok(paths.includes('[1].event'), JSON.stringify(paths));
    assert.ok(paths.includes('[1].resource.reflex.resource.id'), JSON.stringify(paths));
    const sentinel = await t.api('POST', '/api/events', { event: 'batch.sentinel', resource: { 'reflex.resource.id': 'r' } });
    await stored(sentinel.body.ids[0]);
    assert.equal(await rowCount("event = 'ok.event'", []), 0);
  });

  it('answers 413 for a payload over REFLEX_MAX_PAYLOAD_BYTES, naming the limit', async () => {
    const res = await t.api('POST', '/api/events', [
      { event: 'small.one', resource: { 'reflex.resource.id': 'r' } },
      { event: 'big.one', resource: { 'reflex.resource.id': 'r' }, payload: { blob: 'x'.repeat(MAX_PAYLOAD) } },
    ]);
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'payload_too_large');
    assert.equal(res.body.error.issues[0].path, '[1].payload');
    assert.match(res.body.error.message, /REFLEX_MAX_PAYLOAD_BYTES/);
  });

  it('answers 413 for a body over the body limit', async () => {
    const events = Array.from({ length: 200 }, () => ({ event: 'e.big', resource: { 'reflex.resource.id': 'r' }, payload: { blob: 'x'.repeat(1500) } }));
    const res = await t.api('POST', '/api/events', events);
    assert.ok(JSON.stringify(events).length > MAX_BODY);
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'payload_too_large');
  });

  it('answers 400 for a batch over 1,000 events and for an empty batch', async () => {
    const tooMany = Array.from({ length: 1001 }, () => ({ event: 'e', resource: { 'reflex.resource.id': 'r' } }));
    const res = await t.api('POST', '/api/events', tooMany);
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /1000/);
    const empty = await t.api('POST', '/api/events', []);
    assert.equal(empty.status, 400);
    assert.match(empty.body.error.message, /at least one/);
  });

  it('answers 400 for malformed JSON and an empty JSON body, 415 for a content type it does not take', async () => {
    const bad = await t.api('POST', '/api/events', '{"event": ', { 'content-type': 'application/json' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'invalid_request');
    const empty = await fetch(`${t.url}/api/events`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    assert.equal(empty.status, 400);
    const text = await t.api('POST', '/api/events', 'event=order.created', { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);
    assert.equal(text.body.error.code, 'unsupported_media_type');
  });
});
