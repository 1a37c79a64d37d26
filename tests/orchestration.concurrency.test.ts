import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { acquireSlot, ConcurrencySlotTimeoutError, release, setConcurrencyLimit } from '../modules/runs/concurrency-limits.ts';
import { DeploymentInputSchema } from '../schemas/deployment.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';

describe('concurrency limits', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['outbox', 'api'] });
  });
  after(async () => {
    await t.cleanup();
  });

  it('holds at most `limit` slots across holders; a waiter gets the slot when it is released', async () => {
    const { redis, names } = t.rt;
    await setConcurrencyLimit(redis, names, 'db-slots', 2);
    const l1 = await acquireSlot(redis, names, 'db-slots');
    const l2 = await acquireSlot(redis, names, 'db-slots');
    await assert.rejects(acquireSlot(redis, names, 'db-slots', { timeoutMs: 150 }), ConcurrencySlotTimeoutError);
    const waiting = acquireSlot(redis, names, 'db-slots', { timeoutMs: 3000 });
    setTimeout(() => void release(l1), 100);
    const l3 = await waiting;
    assert.equal(l3.limited, true);
    const info = await t.api('GET', '/api/concurrency-limits/db-slots');
    assert.deepEqual(info.body, { name: 'db-slots', limit: 2, active_slots: 2 });
    await Promise.all([l2.release(), l3.release()]);
    assert.equal((await t.api('GET', '/api/concurrency-limits/db-slots')).body.active_slots, 0);
  });

  it('frees the slot of a holder that stops renewing once its lease expires', async () => {
    const { redis, names } = t.rt;
    await setConcurrencyLimit(redis, names, 'one', 1);
    const crashed = await acquireSlot(redis, names, 'one', { leaseSeconds: 0.3, autoRenew: false });
    const started = Date.now();
    const next = await acquireSlot(redis, names, 'one', { timeoutMs: 3000 });
    assert.ok(Date.now() - started >= 200, 'had to wait for the lease to expire');
    assert.equal(await crashed.renew(), false, 'an expired lease cannot be renewed');
    await next.release();
  });

  it('renews leases in the background while held', async () => {
    const { redis, names } = t.rt;
    await setConcurrencyLimit(redis, names, 'renewed', 1);
    const held = await acquireSlot(redis, names, 'renewed', { leaseSeconds: 0.3 });
    await new Promise((r) => setTimeout(r, 700));
    await assert.rejects(acquireSlot(redis, names, 'renewed', { timeoutMs: 100 }), ConcurrencySlotTimeoutError);
    await held.release();
    await (await acquireSlot(redis, names, 'renewed', { timeoutMs: 500 })).release();
  });

  it('treats a name without a limit as unlimited, and sets limits by API', async () => {
    const { redis, names } = t.rt;
    const free = await acquireSlot(redis, names, 'unconfigured');
    assert.equal(free.limited, false);
    const put = await t.api('PUT', '/api/concurrency-limits/api-made', { limit: 3 });
    assert.deepEqual(put.body, { name: 'api-made', limit: 3, active_slots: 0 });
    assert.equal((await t.api('PUT', '/api/concurrency-limits/api-made', { limit: -1 })).body.error.issues[0].path, 'limit');
    assert.ok((await t.api('GET', '/api/concurrency-limits')).body.items.some((l: { name: string }) => l.name === 'api-made'));
    assert.equal((await t.api('DELETE', '/api/concurrency-limits/api-made')).status, 204);
    assert.equal((await t.api('GET', '/api/concurrency-limits/api-made')).status, 404);
  });

  it('enforces deployment and work-pool run slots for workers', async () => {
    const d = await t.modules.runs.deployments.create(DeploymentInputSchema.parse({ name: 'limited', flow: 'f', work_pool: 'small', concurrency_limit: 1 }));
    const run = { deployment_id: d.id, work_pool: 'small' };
    const first = await t.modules.runs.slots.acquire(run);
    assert.equal(first.acquired, true);
    const second = await t.modules.runs.slots.acquire(run);
    assert.equal(second.acquired, false);
    assert.ok(!second.acquired && second.reason.includes('concurrency limit (1)'));
    if (first.acquired) await first.slot.release();
    const third = await t.modules.runs.slots.acquire(run);
    assert.equal(third.acquired, true);
    if (third.acquired) await third.slot.release();

    await t.rt.pg.query('UPDATE work_pools SET concurrency_limit = 1 WHERE name = $1', ['small']);
    const other = { deployment_id: null, work_pool: 'small2' };
    assert.equal((await t.modules.runs.slots.acquire(other)).acquired, true, 'unlimited pool');
  });
});
