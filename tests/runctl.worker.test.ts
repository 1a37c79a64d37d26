import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FlowRun } from '../schemas/flow-run.ts';
import { createWorkerService } from '../services/worker/main.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { keyedProbe, openGate } from './support/test-flows.ts';

/** Concurrency keys, collision strategies and priority, end to end: API → queue → the in-process worker(s). */

let t: TestEngine;
before(async () => {
  t = await startTestEngine({ services: ['outbox', 'api', 'worker'], config: { flowsModule: 'tests/support/test-flows.ts', workerHeartbeatSeconds: 1, workerConcurrency: 8 } });
});
after(async () => {
  await t?.cleanup();
});

async function deploy(body: Record<string, unknown>): Promise<string> {
  const res = await t.api<{ id: string }>('POST', '/api/deployments', { work_pool: 'default', ...body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.id;
}

async function run(id: string, parameters: Record<string, unknown>, extra: Record<string, unknown> = {}, engine = t): Promise<FlowRun> {
  const res = await engine.api<FlowRun>('POST', `/api/deployments/${id}/runs`, { parameters, ...extra });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

const state = async (id: string) => (await t.api<FlowRun>('GET', `/api/flow-runs/${id}`)).body.state;
const inState = (id: string, type: string, timeoutMs = 15_000) =>
  waitFor(async () => ((await state(id)).type === type ? true : null), { timeoutMs, what: `run ${id} ${type}` });

describe('concurrency keys', () => {
  it('rejects a limit below 1, a bad key, a burst without a cap and a bad SLA with field paths', async () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ concurrency: { key: '{{ parameters.c }}', limit: 0 } }, 'concurrency.limit'],
      [{ concurrency: { key: '{{ parameters.c', limit: 1 } }, 'concurrency.key'],
      [{ concurrency: { key: 'x', limit: 1, burst: 1 } }, 'concurrency.burst'],
      [{ concurrency: { key: 'x', collision: 'newest' } }, 'concurrency.collision'],
      [{ priority: 1001 }, 'priority'],
      [{ slas: [{ type: 'lateness', seconds: 0 }] }, 'slas[0].seconds'],
    ];
    for (const [extra, path] of bad) {
      const res = await t.api('POST', '/api/deployments', { name: `bad-${path.replace(/\W/g, '-')}`, flow: 'keyed', ...extra });
      assert.equal(res.status, 400, JSON.stringify(extra));
      const paths = (res.body.error.issues as Array<{ path: string }>).map((i) => i.path);
      assert.ok(paths.includes(path), `${JSON.stringify(extra)} → ${JSON.stringify(paths)}`);
    }
    const d = await deploy({ name: 'patched', flow: 'keyed' });
    const patch = await t.api('PATCH', `/api/deployments/${d}`, { concurrency: { key: 'x', burst: 2 } });
    assert.equal(patch.status, 400);
    assert.equal(patch.body.error.issues[0].path, 'concurrency.burst');
  });

  it('runs at most `limit` per key; waiting runs start in creation order', async () => {
    const d = await deploy({ name: 'per-key', flow: 'gated', concurrency: { key: '{{ parameters.customer }}', limit: 1 } });
    const a1 = await run(d, { customer: 'a', key: 'pk-a1' });
    await inState(a1.id, 'RUNNING');
    const a2 = await run(d, { customer: 'a', key: 'pk-a2' });
    const a3 = await run(d, { customer: 'a', key: 'pk-a3' });
    const b1 = await run(d, { customer: 'b', key: 'pk-b1' });
    await inState(b1.id, 'RUNNING');
    // a2 and a3 had a few slot retries to start; they must still wait.
    await waitFor(async () => ((await t.rt.redis.zcard(t.rt.names.keys.runKeyWaiters(d, (await import('../modules/runs/run-keys.ts')).runKeyHash('a')))) === 2 ? true : null), { what: 'a2 and a3 in line' });
    assert.equal((await state(a2.id)).type, 'SCHEDULED');
    assert.equal((await state(a3.id)).type, 'SCHEDULED');
    openGate('pk-a1');
    await inState(a2.id, 'RUNNING');
    assert.equal((await state(a3.id)).type, 'SCHEDULED', 'a3 waits behind a2');
    openGate('pk-a2');
    await inState(a3.id, 'RUNNING');
    openGate('pk-a3');
    openGate('pk-b1');
    await inState(a3.id, 'COMPLETED');
  });

  it('bursts above a key limit while the deployment-wide cap has room, never above the cap', async () => {
    const d = await deploy({ name: 'bursty', flow: 'keyed', concurrency_limit: 3, concurrency: { key: '{{ parameters.customer }}', limit: 1, burst: 1 } });
    keyedProbe.max.clear();
    const runs = await Promise.all([
      ...[1, 2, 3, 4].map((i) => run(d, { customer: 'burst-a', ms: 600, tag: `a${i}` })),
      ...[1, 2].map((i) => run(d, { customer: 'burst-b', ms: 600, tag: `b${i}` })),
    ]);
    for (const r of runs) await inState(r.id, 'COMPLETED', 30_000);
    assert.equal(keyedProbe.max.get('burst-a'), 2, 'a key runs limit + burst at most, and did burst');
    assert.ok((keyedProbe.max.get('burst-b') ?? 0) >= 1);
    const res = await t.rt.pg.query<{ n: string }>(
      `SELECT max(c)::text AS n FROM (SELECT (SELECT count(*) FROM flow_runs o WHERE o.deployment_id = r.deployment_id AND o.start_time <= r.start_time AND o.end_time > r.start_time) AS c
         FROM flow_runs r WHERE r.deployment_id = $1) x`,
      [d],
    );
    assert.ok(Number(res.rows[0].n) <= 3, `at most 3 runs of the deployment at once, saw ${res.rows[0].n}`);
  });

  it('cancel-in-progress: the in-flight run is cancelled and the newest wins', async () => {
    const d = await deploy({ name: 'singleton', flow: 'gated', concurrency: { key: '{{ parameters.customer }}', limit: 1, collision: 'cancel-in-progress' } });
    const r1 = await run(d, { customer: 's', key: 'cip-1' });
    await inState(r1.id, 'RUNNING');
    const r2 = await run(d, { customer: 's', key: 'cip-2' });
    await inState(r2.id, 'RUNNING');
    const s1 = await state(r1.id);
    assert.equal(s1.type, 'CANCELLED');
    const r3 = await run(d, { customer: 's', key: 'cip-3' });
    await inState(r3.id, 'RUNNING');
    assert.equal((await state(r2.id)).type, 'CANCELLED');
    openGate('cip-3');
    await inState(r3.id, 'COMPLETED');
  });

  it('cancel-new: a run whose key is busy is cancelled, saying why', async () => {
    const d = await deploy({ name: 'first-wins', flow: 'gated', concurrency: { key: '{{ parameters.customer }}', collision: 'cancel-new' } });
    const r1 = await run(d, { customer: 'n', key: 'cn-1' });
    await inState(r1.id, 'RUNNING');
    const r2 = await run(d, { customer: 'n', key: 'cn-2' });
    await inState(r2.id, 'CANCELLED');
    assert.match((await state(r2.id)).message ?? '', /concurrency key/);
    assert.equal((await state(r1.id)).type, 'RUNNING');
    openGate('cn-1');
    await inState(r1.id, 'COMPLETED');
  });

  it('takes a run\'s own concurrency_key (an automation renders it over its event), and refuses one without a declaration', async () => {
    const d = await deploy({ name: 'given-key', flow: 'gated', concurrency: { key: '{{ parameters.customer }}', collision: 'cancel-new' } });
    const r1 = await run(d, { customer: 'one', key: 'gk-1' }, { concurrency_key: 'shared' });
    await inState(r1.id, 'RUNNING');
    const r2 = await run(d, { customer: 'two', key: 'gk-2' }, { concurrency_key: 'shared' });
    await inState(r2.id, 'CANCELLED');
    const run3 = await t.modules.runs.commands.execute({ type: 'run-deployment', idempotency_key: 'gk-cmd', deployment_id: d, parameters: { customer: 'three', key: 'gk-3' }, tags: [], triggered_by: { automation_id: null, firing_id: null, event_id: null }, concurrency_key: 'other' });
    assert.ok('flow_run_id' in run3);
    await inState(run3.flow_run_id, 'RUNNING');
    openGate('gk-1');
    openGate('gk-3');
    const plain = await deploy({ name: 'no-keys', flow: 'noop' });
    const refused = await t.api('POST', `/api/deployments/${plain}/runs`, { concurrency_key: 'x' });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.issues[0].path, 'concurrency_key');
  });

  it('two workers of one namespace share a key exactly', async () => {
    const replica = await startTestEngine({ services: ['worker'], namespace: t.config.namespace, config: { flowsModule: 'tests/support/test-flows.ts', workerHeartbeatSeconds: 1, workerConcurrency: 8 } });
    try {
      const d = await deploy({ name: 'shared-key', flow: 'keyed', concurrency: { key: '{{ parameters.customer }}', limit: 2 } });
      keyedProbe.max.clear();
      const runs = await Promise.all(['x', 'y'].flatMap((c) => [1, 2, 3, 4, 5].map((i) => run(d, { customer: `rep-${c}`, ms: 300, tag: `${c}${i}` }))));
      for (const r of runs) await inState(r.id, 'COMPLETED', 40_000);
      assert.equal(keyedProbe.max.get('rep-x'), 2);
      assert.equal(keyedProbe.max.get('rep-y'), 2);
      const ran = await t.rt.pg.query<{ n: string }>(`SELECT count(*)::text AS n FROM flow_runs WHERE deployment_id = $1 AND state_type = 'COMPLETED' AND run_count = 1`, [d]);
      assert.equal(ran.rows[0].n, '10', 'every run ran exactly once');
    } finally {
      await replica.stop();
    }
  });
});

describe('priority', () => {
  it('a worker takes higher priority first after its pool is paused and resumed (the deployment default, per-run overrides)', async () => {
    const pool = 'prio';
    const d = await deploy({ name: 'prioritized', flow: 'keyed', work_pool: pool, priority: 5 });
    keyedProbe.started.length = 0;
    // No worker serves the pool yet: the runs queue up; then the pool is paused, its worker starts, and it resumes.
    const order: Array<[string, number | undefined]> = [['low', -10], ['default', undefined], ['high', 100], ['top', 1000], ['mid', 50]];
    for (const [tag, priority] of order) await run(d, { customer: `prio-${tag}`, ms: 1, tag }, priority === undefined ? {} : { priority });
    assert.equal((await t.api('POST', `/api/work-pools/${pool}/pause`)).status, 200);
    const worker = await createWorkerService(t.rt, t.modules, { pool, concurrency: 1, flowsModule: 'tests/support/test-flows.ts' });
    await worker.start();
    try {
      assert.equal((await t.api('POST', `/api/work-pools/${pool}/resume`)).status, 200);
      await waitFor(() => (keyedProbe.started.length >= 5 ? true : null), { timeoutMs: 20_000, what: 'all five runs' });
      assert.deepEqual(keyedProbe.started.slice(0, 5), ['top', 'high', 'mid', 'default', 'low']);
    } finally {
      await worker.stop();
    }
  });
});
