import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { FlowRun } from '../schemas/flow-run.ts';
import { shipmentWaiter } from './support/author-flows.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/** waitForEvent inside a flow, with the event sent before (lookback), during, and never (timeout). */

let t: TestEngine;
before(async () => {
  t = await startTestEngine({ services: ['outbox', 'api', 'worker'], config: { flowsModule: 'tests/support/author-flows.ts' } });
});
after(async () => {
  await t?.cleanup();
});

async function emit(order: string, amount: number): Promise<string> {
  const r = await t.api<{ ids: string[] }>('POST', '/api/events', { event: 'order.shipped', resource: { 'reflex.resource.id': `order.${order}` }, payload: { amount } });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body.ids[0];
}

describe('waitForEvent', () => {
  it('an event sent before the wait counts with a lookback (no race), and another order does not', async () => {
    const order = randomUUID();
    await emit(`${order}-other`, 1);
    const id = await emit(order, 7);
    assert.deepEqual(await shipmentWaiter({ order, timeout: 10, lookback: 60 }), { id, amount: 7 });
  });

  it('without a lookback, an event sent before the wait does not count', async () => {
    const order = randomUUID();
    await emit(order, 1);
    assert.equal(await shipmentWaiter({ order, timeout: 0.5 }), null);
  });

  it('an event sent during the wait ends it; the condition skips events that do not satisfy it', async () => {
    const order = randomUUID();
    const running = shipmentWaiter({ order, timeout: 20, min: 10 });
    const list = async () => (await t.api<{ items: FlowRun[] }>('GET', '/api/flow-runs?flow_name=shipment-waiter&limit=50')).body.items;
    await waitFor(async () => (await list()).some((r) => (r.parameters as { order?: string }).order === order && r.state.type === 'RUNNING'), { what: 'the waiting run' });
    await emit(order, 5);
    const id = await emit(order, 20);
    assert.deepEqual(await running, { id, amount: 20 });
    const run = (await list()).find((r) => (r.parameters as { order?: string }).order === order)!;
    assert.equal(run.state.type, 'COMPLETED');
  });

  it('never sent: resolves null at the timeout', async () => {
    const started = Date.now();
    assert.equal(await shipmentWaiter({ order: randomUUID(), timeout: 0.5, lookback: 5 }), null);
    assert.ok(Date.now() - started >= 450);
  });
});
