import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

describe('event ingest → NATS → Postgres', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['recorder', 'api'] });
  });
  after(async () => {
    await t?.cleanup();
  });

  it('stores a posted event and answers 202 with its id', async () => {
    const res = await t.api('POST', '/api/events', {
      event: 'order.created',
      resource: { 'reflex.resource.id': 'order-1', region: 'eu' },
      payload: { total: 42 },
    });
    assert.equal(res.status, 202);
    assert.equal(res.body.ids.length, 1);
    const id = res.body.ids[0];
    const row = await waitFor(async () => (await t.rt.pg.query('SELECT * FROM events WHERE id = $1', [id])).rows[0], { what: 'stored event' });
    assert.equal(row.event, 'order.created');
    assert.equal(row.resource_id, 'order-1');
    assert.deepEqual(row.payload, { total: 42 });
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
    const count = await t.rt.pg.query("SELECT count(*)::int AS n FROM events WHERE event = 'ok.event'");
    assert.equal(count.rows[0].n, 0);
  });
});
