import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

const STRUCTURED = { 'content-type': 'application/cloudevents+json' };
const BATCH = { 'content-type': 'application/cloudevents-batch+json' };

describe('CloudEvents 1.0 ingest', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['recorder', 'api'] });
  });
  after(async () => {
    await t?.cleanup();
  });

  const stored = (id: string) =>
    waitFor(
      async () => {
        const r = await t.api('GET', `/api/events/${id}`);
        return r.status === 200 ? r.body : null;
      },
      { what: `event ${id}` },
    );

  it('structured mode maps type, source/subject, data, id and time', async () => {
    const id = randomUUID();
    const res = await t.api(
      'POST',
      '/api/events',
      { specversion: '1.0', id, source: '/shop', subject: 'order-7', type: 'com.shop.order.created', time: '2024-06-01T08:00:00Z', data: { total: 7 }, region: 'eu' },
      STRUCTURED,
    );
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual(res.body.ids, [id]);
    const e = await stored(id);
    assert.equal(e.event, 'com.shop.order.created');
    assert.equal(e.occurred, '2024-06-01T08:00:00.000Z');
    assert.deepEqual(e.payload, { total: 7 });
    assert.equal(e.resource['reflex.resource.id'], '/shop/order-7');
    assert.equal(e.resource['ce.source'], '/shop');
    assert.equal(e.resource['ce.subject'], 'order-7');
    // Extension attributes become ce.<name> labels.
    assert.equal(e.resource['ce.region'], 'eu');
  });

  it('a non-UUID CloudEvent id becomes a stable UUID, so a resend is deduplicated', async () => {
    const ce = { specversion: '1.0', id: 'evt-42', source: 'urn:billing', type: 'invoice.paid', data: 'plain text' };
    const first = await t.api('POST', '/api/events', ce, STRUCTURED);
    const second = await t.api('POST', '/api/events', ce, STRUCTURED);
    assert.equal(first.status, 202);
    assert.deepEqual(first.body.ids, second.body.ids);
    const e = await stored(first.body.ids[0]);
    assert.equal(e.resource['reflex.resource.id'], 'urn:billing');
    assert.equal(e.resource['ce.id'], 'evt-42');
    assert.deepEqual(e.payload, { data: 'plain text' });
  });

  it('batch mode stores every CloudEvent of the array', async () => {
    const ids = [randomUUID(), randomUUID()];
    const res = await t.api(
      'POST',
      '/api/events',
      ids.map((id, i) => ({ specversion: '1.0', id, source: 'batch-src', type: `batch.item${i}`, data: { i } })),
      BATCH,
    );
    assert.equal(res.status, 202);
    assert.deepEqual(res.body.ids, ids);
    for (const [i, id] of ids.entries()) {
      const e = await stored(id);
      assert.equal(e.event, `batch.item${i}`);
      assert.deepEqual(e.payload, { i });
    }
  });

  it('binary mode reads ce-* headers and the body as data', async () => {
    const id = randomUUID();
    const res = await t.api('POST', '/api/events', JSON.stringify({ sku: 'A-1' }), {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': 'warehouse',
      'ce-subject': 'bin%2F4',
      'ce-type': 'stock.moved',
      'ce-time': '2024-06-02T10:00:00+02:00',
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const e = await stored(id);
    assert.equal(e.event, 'stock.moved');
    assert.equal(e.resource['reflex.resource.id'], 'warehouse/bin/4');
    assert.equal(e.occurred, '2024-06-02T08:00:00.000Z');
    assert.deepEqual(e.payload, { sku: 'A-1' });

    const textId = randomUUID();
    const text = await t.api('POST', '/api/events', 'hello', {
      'content-type': 'text/plain',
      'ce-specversion': '1.0',
      'ce-id': textId,
      'ce-source': 'greeter',
      'ce-type': 'greeting.sent',
    });
    assert.equal(text.status, 202);
    assert.deepEqual((await stored(textId)).payload, { data: 'hello' });
  });

  it('rejects invalid CloudEvents with 400 and the attribute paths', async () => {
    const missing = await t.api('POST', '/api/events', { specversion: '1.0', id: 'x', data: {} }, STRUCTURED);
    assert.equal(missing.status, 400);
    const paths = missing.body.error.issues.map((i: { path: string }) => i.path).sort();
    assert.deepEqual(paths, ['source', 'type']);

    const version = await t.api('POST', '/api/events', { specversion: '0.3', id: 'x', source: 's', type: 't' }, STRUCTURED);
    assert.equal(version.status, 400);
    assert.equal(version.body.error.issues[0].path, 'specversion');

    const batch = await t.api('POST', '/api/events', [{ specversion: '1.0', id: 'a', source: 's', type: 'ok.type' }, { specversion: '1.0', id: 'b', type: 'ok.type' }], BATCH);
    assert.equal(batch.status, 400);
    assert.equal(batch.body.error.issues[0].path, '[1].source');

    const notArray = await t.api('POST', '/api/events', { specversion: '1.0' }, BATCH);
    assert.equal(notArray.status, 400);

    const badType = await t.api('POST', '/api/events', { specversion: '1.0', id: 'x', source: 's', type: 'has spaces' }, STRUCTURED);
    assert.equal(badType.status, 400);
    assert.equal(badType.body.error.issues[0].path, 'event');

    const binaryMissing = await t.api('POST', '/api/events', '{}', { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'x' });
    assert.equal(binaryMissing.status, 400);
    assert.deepEqual(binaryMissing.body.error.issues.map((i: { path: string }) => i.path).sort(), ['source', 'type']);

    const badJson = await t.api('POST', '/api/events', '{"specversion":', STRUCTURED);
    assert.equal(badJson.status, 400);
  });
});
