import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { flowRunJobId } from '../schemas/jobs.ts';
import { ReflexError } from '../core/errors.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

describe('flow runs API and flow-run commands', () => {
  let t: TestEngine;
  let deploymentId: string;
  before(async () => {
    t = await startTestEngine({ services: ['outbox', 'scheduler', 'api'] });
    const d = await t.api('POST', '/api/deployments', { name: 'reports', flow: 'report', parameters: { n: 1 }, tags: ['finance'] });
    deploymentId = d.body.id;
  });
  after(async () => {
    await t.cleanup();
  });

  it('lists runs with filters and cursor pagination, and shows one with history, task runs and logs', async () => {
    const store = t.modules.runs.store;
    const since = new Date().toISOString();
    const a = (await t.api('POST', '/api/deployments/reports/runs', {})).body;
    const b = (await t.api('POST', '/api/deployments/reports/runs', { tags: ['urgent'] })).body;
    const c = await store.createFlowRun({ flow_name: 'adhoc', state: { type: 'RUNNING' } });
    await store.setFlowRunState(c.id, { type: 'COMPLETED' }, { result: { ok: true } });

    const all = await t.api('GET', `/api/flow-runs?since=${encodeURIComponent(since)}`);
    assert.deepEqual(all.body.items.map((r: { id: string }) => r.id), [c.id, b.id, a.id], 'newest first');
    const byDeployment = await t.api('GET', `/api/flow-runs?deployment_id=${deploymentId}&since=${encodeURIComponent(since)}`);
    assert.deepEqual(byDeployment.body.items.map((r: { id: string }) => r.id), [b.id, a.id]);
    assert.deepEqual((await t.api('GET', '/api/flow-runs?state=COMPLETED')).body.items.map((r: { id: string }) => r.id), [c.id]);
    assert.deepEqual((await t.api('GET', '/api/flow-runs?flow_name=adhoc')).body.items.map((r: { id: string }) => r.id), [c.id]);
    assert.deepEqual((await t.api('GET', '/api/flow-runs?tag=urgent')).body.items.map((r: { id: string }) => r.id), [b.id]);
    const p1 = await t.api('GET', `/api/flow-runs?limit=2&since=${encodeURIComponent(since)}`);
    assert.equal(p1.body.items.length, 2);
    const p2 = await t.api('GET', `/api/flow-runs?limit=2&since=${encodeURIComponent(since)}&cursor=${p1.body.next_cursor}`);
    assert.deepEqual(p2.body.items.map((r: { id: string }) => r.id), [a.id]);
    assert.equal(p2.body.next_cursor, null);
    assert.equal((await t.api('GET', '/api/flow-runs?since=yesterday')).status, 400);

    const task = await store.createTaskRun({ flow_run_id: c.id, task_name: 'sum', dynamic_key: 'sum-0' });
    store.appendLogs([{ flow_run_id: c.id, task_run_id: task.id, level: 30, message: 'hello', timestamp: new Date().toISOString(), fields: {} }]);
    await store.flushLogs();
    const detail = await t.api('GET', `/api/flow-runs/${c.id}`);
    assert.equal(detail.status, 200);
    assert.deepEqual(detail.body.state_history.map((s: { name: string }) => s.name), ['Running', 'Completed']);
    assert.deepEqual(detail.body.result, { ok: true });
    assert.equal(detail.body.task_runs[0].id, task.id);
    const logs = await t.api('GET', `/api/flow-runs/${c.id}/logs`);
    assert.equal(logs.body.items[0].message, 'hello');
    assert.equal((await t.api('GET', '/api/flow-runs/not-a-run')).status, 404);
  });

  it('set-state: 200 with the new state, 409 with the reason, force overrides', async () => {
    const run = await t.modules.runs.store.createFlowRun({ flow_name: 'adhoc', state: { type: 'RUNNING' } });
    const ok = await t.api('POST', `/api/flow-runs/${run.id}/set-state`, { state: { type: 'COMPLETED', message: 'done by hand' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.state.type, 'COMPLETED');
    assert.equal(ok.body.state.message, 'done by hand');
    const refused = await t.api('POST', `/api/flow-runs/${run.id}/set-state`, { state: { type: 'RUNNING' } });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.message, 'cannot move flow run from COMPLETED to RUNNING: the run is finished');
    const forced = await t.api('POST', `/api/flow-runs/${run.id}/set-state`, { state: { type: 'FAILED' }, force: true });
    assert.equal(forced.status, 200);
    assert.equal(forced.body.state.type, 'FAILED');
    assert.equal((await t.api('POST', `/api/flow-runs/${run.id}/set-state`, { state: { type: 'DONE' } })).body.error.issues[0].path, 'state.type');
  });

  it('cancels: a scheduled run at once (job removed), a running one through CANCELLING and the worker signal', async () => {
    const scheduled = (await t.api('POST', '/api/deployments/reports/runs', { scheduled_time: new Date(Date.now() + 3_600_000).toISOString() })).body;
    const queue = t.modules.runs.queues.queue('default');
    assert.ok(await queue.getJob(flowRunJobId(scheduled.id, 1)));
    const c1 = await t.api('POST', `/api/flow-runs/${scheduled.id}/cancel`, {});
    assert.equal(c1.status, 200);
    assert.equal(c1.body.state.type, 'CANCELLED');
    assert.equal(await queue.getJob(flowRunJobId(scheduled.id, 1)), undefined);

    const running = await t.modules.runs.store.createFlowRun({ flow_name: 'adhoc', state: { type: 'RUNNING' } });
    let signalled = 0;
    const stop = t.modules.runs.cancellation.watch(running.id, () => signalled++);
    const c2 = await t.api('POST', `/api/flow-runs/${running.id}/cancel`, {});
    assert.equal(c2.body.state.type, 'CANCELLING');
    await waitFor(() => signalled === 1, { timeoutMs: 1000, what: 'cancellation signal within 1 s' });
    stop();
    // A watcher that starts after the request still learns about it.
    let late = false;
    const stop2 = t.modules.runs.cancellation.watch(running.id, () => (late = true));
    await waitFor(() => late, { timeoutMs: 1000 });
    stop2();
    const done = await t.modules.runs.store.setFlowRunState(running.id, { type: 'CANCELLED' });
    assert.equal(done.accepted, true);
    const c3 = await t.api('POST', `/api/flow-runs/${running.id}/cancel`, {});
    assert.equal(c3.status, 409);
    assert.match(c3.body.error.message, /the run is finished/);
  });

  it('executes flow-run commands: run-deployment idempotent on its key, cancel, invalid ones fail with the reason', async () => {
    const cmd = { type: 'run-deployment' as const, idempotency_key: 'firing-1:0', deployment_name: 'reports', parameters: { n: 7 }, tags: [], triggered_by: { automation_id: 'a1', firing_id: 'f1', event_id: null } };
    const first = await t.modules.runs.commands.execute(cmd);
    const second = await t.modules.runs.commands.execute(cmd);
    assert.ok('flow_run_id' in first && 'flow_run_id' in second);
    assert.equal(first.flow_run_id, second.flow_run_id);
    assert.equal((await t.modules.runs.store.getFlowRun(first.flow_run_id))?.parameters.n, 7);

    const none = { automation_id: null, firing_id: null, event_id: null };
    const cancelled = await t.modules.runs.commands.execute({ type: 'cancel-flow-run', idempotency_key: 'c-1', flow_run_id: first.flow_run_id, triggered_by: none });
    assert.deepEqual(cancelled, { flow_run_id: first.flow_run_id });
    assert.equal((await t.modules.runs.store.getFlowRun(first.flow_run_id))?.state.type, 'CANCELLED');
    // Refusals are ReflexErrors below 500: the action records them as failures and does not retry.
    await assert.rejects(
      t.modules.runs.commands.execute({ type: 'run-deployment', idempotency_key: 'b-1', deployment_name: 'nope', parameters: {}, tags: [], triggered_by: none }),
      (err: unknown) => err instanceof ReflexError && err.status === 404 && /deployment "nope" does not exist/.test(err.message),
    );
    await assert.rejects(
      t.modules.runs.commands.execute({ type: 'cancel-flow-run', idempotency_key: 'c-2', flow_run_id: first.flow_run_id, triggered_by: none }),
      (err: unknown) => err instanceof ReflexError && err.status === 409,
    );
  });
});
