import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sseEvents } from '../cli/sse.ts';
import type { ReflexEvent } from '../schemas/event.ts';
import { closeEvents, emitEvent } from '../sdk/events.ts';
import { runContext, type RunContext } from '../sdk/context.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/** Opens the SSE stream and returns an iterator of its events, once the server has subscribed. */
async function openStream(t: TestEngine, query: string) {
  const abort = new AbortController();
  const res = await fetch(`${t.url}/api/events/stream${query}`, { signal: abort.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const events = sseEvents(res.body!);
  return {
    async next(): Promise<ReflexEvent> {
      const r = await Promise.race([events.next(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no event within 5 s')), 5000))]);
      assert.ok(!r.done, 'stream ended');
      return r.value;
    },
    close: () => abort.abort(),
  };
}

const post = (t: TestEngine, body: unknown) => t.api('POST', '/api/events', body);
const ev = (event: string, id: string, labels: Record<string, string> = {}) => ({ event, resource: { 'reflex.resource.id': id, ...labels } });

describe('live stream, namespace isolation and the SDK', () => {
  let a: TestEngine;
  let b: TestEngine;
  before(async () => {
    [a, b] = await Promise.all([startTestEngine({ services: ['recorder', 'api'] }), startTestEngine({ services: ['recorder', 'api'] })]);
  });
  after(async () => {
    await closeEvents();
    await Promise.all([a?.cleanup(), b?.cleanup()]);
  });

  it('SSE delivers matching events and not the others', async () => {
    const stream = await openStream(a, '?event=shop.order.*,shop.refund&label.region=eu&resource_id=order-*');
    await post(a, ev('shop.order.created', 'order-1', { region: 'us' })); // wrong label
    await post(a, ev('shop.invoice.created', 'order-2', { region: 'eu' })); // wrong name
    await post(a, ev('shop.order.created', 'invoice-3', { region: 'eu' })); // wrong resource
    const match = await post(a, ev('shop.order.created', 'order-4', { region: 'eu' }));
    const refund = await post(a, ev('shop.refund', 'order-5', { region: 'eu' }));
    const first = await stream.next();
    assert.equal(first.id, match.body.ids[0]);
    assert.deepEqual(first.resource, { 'reflex.resource.id': 'order-4', region: 'eu' });
    assert.equal((await stream.next()).id, refund.body.ids[0]);
    stream.close();
  });

  it('SSE sends an event matching two overlapping patterns once', async () => {
    const stream = await openStream(a, '?event=dup.*&event=dup.x');
    const one = await post(a, ev('dup.x', 'd'));
    const two = await post(a, ev('dup.y', 'd'));
    assert.equal((await stream.next()).id, one.body.ids[0]);
    assert.equal((await stream.next()).id, two.body.ids[0]);
    stream.close();
  });

  it('SSE rejects a bad filter with 400', async () => {
    const res = await a.api('GET', '/api/events/stream?event=bad%20name');
    assert.equal(res.status, 400);
    assert.equal(res.body.error.issues[0].path.split('[')[0], 'event');
    const unknown = await a.api('GET', '/api/events/stream?colour=red');
    assert.equal(unknown.status, 400);
  });

  it('keeps namespaces apart: an event in one is neither in the other’s filter nor on its stream', async () => {
    const streamB = await openStream(b, '');
    const inA = await post(a, ev('iso.check', 'iso-a'));
    const inB = await post(b, ev('iso.check', 'iso-b'));
    assert.equal((await streamB.next()).id, inB.body.ids[0]);
    streamB.close();
    const filterA = () => a.api('POST', '/api/events/filter', { event: ['iso.check'] });
    const filterB = () => b.api('POST', '/api/events/filter', { event: ['iso.check'] });
    await waitFor(async () => (await filterA()).body.items.length === 1 && (await filterB()).body.items.length === 1, { what: 'both stored' });
    assert.deepEqual((await filterA()).body.items.map((e: ReflexEvent) => e.id), inA.body.ids);
    assert.deepEqual((await filterB()).body.items.map((e: ReflexEvent) => e.id), inB.body.ids);
    assert.equal((await b.api('GET', `/api/events/${inA.body.ids[0]}`)).status, 404);
  });

  it('emitEvent publishes straight to NATS from the environment config, and the event lands in Postgres', async () => {
    process.env.REFLEX_NAMESPACE = a.config.namespace;
    const emitted = await emitEvent({ event: 'sdk.emitted', resource: { 'reflex.resource.id': 'sdk-1' }, payload: { ok: true } });
    assert.match(emitted.id, /^[0-9a-f-]{36}$/);
    const row = await waitFor(async () => (await a.rt.pg.query('SELECT * FROM events WHERE id = $1', [emitted.id])).rows[0], { what: 'sdk event stored' });
    assert.equal(row.event, 'sdk.emitted');
    assert.deepEqual(row.payload, { ok: true });
    await assert.rejects(emitEvent({ event: 'bad name', resource: { 'reflex.resource.id': 'x' } }), (err: Error & { issues?: { path: string }[] }) => err.issues?.[0]?.path === 'event');
  });

  it('emitEvent through a given bus adds the run context’s related resources once', async () => {
    const flowRun = { 'reflex.resource.id': 'reflex.flow-run.1', 'reflex.resource.role': 'flow-run' };
    const ctx = { related: [flowRun], client: null } as unknown as RunContext;
    const emitted = await runContext.run(ctx, () =>
      emitEvent(
        {
          event: 'sdk.in-run',
          resource: { 'reflex.resource.id': 'sdk-2' },
          related: [flowRun, { 'reflex.resource.id': 'customer-1', 'reflex.resource.role': 'customer' }],
        },
        { bus: b.rt.bus },
      ),
    );
    assert.deepEqual(emitted.related.map((r) => r['reflex.resource.role']), ['flow-run', 'customer']);
    const stored = await waitFor(async () => {
      const r = await b.api('GET', `/api/events/${emitted.id}`);
      return r.status === 200 ? r.body : null;
    });
    assert.deepEqual(stored.related, emitted.related);
  });
});
