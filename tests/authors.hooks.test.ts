import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { FlowRun } from '../schemas/flow-run.ts';
import { createWorkerService } from '../services/worker/main.ts';
import type { FlowWorker } from '../services/worker/worker.ts';
import { hooked, seen } from './support/author-flows.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/**
 * State hooks through the SDK and the API: each flow and task hook with the run and its final state, a
 * hook's error logged on the run without changing its state, and onCrashed run exactly once by the
 * surviving workers after the worker executing the run is killed with SIGKILL.
 */

const FLOWS = 'tests/support/author-flows.ts';
let t: TestEngine;
let child: ChildProcess | undefined;
const survivors: FlowWorker[] = [];

before(async () => {
  t = await startTestEngine({ services: ['outbox', 'api', 'worker'], config: { flowsModule: FLOWS, workerHeartbeatSeconds: 1 } });
});
after(async () => {
  if (child && child.exitCode === null) try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
  for (const s of survivors) await s.stop();
  await t?.cleanup();
});

const callsFor = (runId: string | null) => seen.hooks.filter((h) => h.run && ('flowName' in h.run ? h.run.id === runId : h.run.flowRunId === runId));
const logsOf = async (id: string) => (await t.api<{ items: Array<{ message: string; level: number; fields: Record<string, unknown> }> }>('GET', `/api/flow-runs/${id}/logs?limit=500`)).body.items;
const runOf = async (id: string) => (await t.api<FlowRun>('GET', `/api/flow-runs/${id}`)).body;

async function runIdOf(mode: string): Promise<string> {
  const list = await t.api<{ items: FlowRun[] }>('GET', '/api/flow-runs?flow_name=hooked&limit=50');
  const run = list.body.items.find((r) => (r.parameters as { mode?: string }).mode === mode);
  assert.ok(run, `a recorded run with mode ${mode}`);
  return run.id;
}

describe('state hooks', () => {
  it('completion: onRunning then onCompletion with the committed state; a throwing hook is logged and changes nothing', async () => {
    assert.equal(await hooked({ mode: 'ok' }), 42);
    const id = await runIdOf('ok');
    const calls = callsFor(id);
    assert.deepEqual(calls.map((c) => c.hook), ['onRunning', 'task.onCompletion', 'onCompletion']);
    const completion = calls[2];
    assert.equal(completion.state.type, 'COMPLETED');
    assert.equal('flowName' in completion.run && completion.run.record?.state.type, 'COMPLETED');
    assert.equal(calls[0].state.type, 'RUNNING');
    const taskCall = calls[1];
    assert.ok(!('flowName' in taskCall.run));
    assert.deepEqual(taskCall.run.parameters, [21]);
    assert.equal(taskCall.state.type, 'COMPLETED');

    const run = await runOf(id);
    assert.equal(run.state.type, 'COMPLETED');
    const logs = await waitFor(async () => {
      const l = await logsOf(id);
      return l.some((x) => /onCompletion hook failed/.test(x.message)) ? l : null;
    }, { what: 'the hook error in the run logs' });
    const line = logs.find((x) => /onCompletion hook failed/.test(x.message))!;
    assert.equal(line.level, 50);
    assert.match(JSON.stringify(line.fields), /hook exploded on purpose/);
  });

  it('failure: onFailure still runs after an earlier failure hook rejects; the run stays FAILED', async () => {
    await assert.rejects(hooked({ mode: 'fail' }), /fails on purpose/);
    const id = await runIdOf('fail');
    const calls = callsFor(id);
    assert.deepEqual(calls.map((c) => c.hook), ['onRunning', 'onFailure']);
    assert.equal(calls[1].state.type, 'FAILED');
    assert.match(calls[1].state.message ?? '', /fails on purpose/);
    assert.equal((await runOf(id)).state.type, 'FAILED');
    await waitFor(async () => (await logsOf(id)).some((x) => /onFailure hook failed/.test(x.message)), { what: 'the failure hook error logged' });
  });

  it('a failing task calls its onFailure hook with the error', async () => {
    await assert.rejects(hooked({ mode: 'task-fail' }), /negative/);
    const id = await runIdOf('task-fail');
    const calls = callsFor(id);
    assert.deepEqual(calls.map((c) => c.hook), ['onRunning', 'task.onFailure', 'onFailure']);
    assert.match(calls[1].state.message ?? '', /negative/);
  });

  it('cancellation: onCancellation with the CANCELLED state', async () => {
    await assert.rejects(hooked({ mode: 'cancel' }), /cancelled on purpose/);
    const id = await runIdOf('cancel');
    const calls = callsFor(id);
    assert.deepEqual(calls.map((c) => c.hook), ['onRunning', 'onCancellation']);
    assert.equal(calls[1].state.type, 'CANCELLED');
    assert.equal((await runOf(id)).state.type, 'CANCELLED');
  });

  it('hooks on a deployed run executed by a worker', async () => {
    const dep = await t.api<{ id: string }>('POST', '/api/deployments', { name: 'hooked-dep', flow: 'hooked' });
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
    const created = (await t.api<FlowRun>('POST', `/api/deployments/${dep.body.id}/runs`, { parameters: { mode: 'fail' } })).body;
    await waitFor(async () => (await runOf(created.id)).state.type === 'FAILED', { what: 'the deployed run to fail' });
    await waitFor(() => callsFor(created.id).some((c) => c.hook === 'onFailure'), { what: 'onFailure of the deployed run' });
    assert.deepEqual(callsFor(created.id).map((c) => c.hook), ['onRunning', 'onFailure']);
  });

  it('onCrashed runs once, on a surviving worker, after the executing worker is killed with SIGKILL', async () => {
    let output = '';
    child = spawn('npx', ['tsx', 'cli/main.ts', 'worker', 'start', '--pool', 'hooks-crash', '--flows', FLOWS, '--concurrency', '1'], {
      env: { ...process.env, REFLEX_NAMESPACE: t.config.namespace, REFLEX_WORKER_HEARTBEAT_SECONDS: '1', REFLEX_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(() => output.includes('Reflex worker running'), { timeoutMs: 30_000, what: `the worker child to start (output: ${output})` });
    const dep = await t.api<{ id: string }>('POST', '/api/deployments', { name: 'crash-hooked', flow: 'crash-hooked', work_pool: 'hooks-crash' });
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
    const created = (await t.api<FlowRun>('POST', `/api/deployments/${dep.body.id}/runs`, {})).body;
    await waitFor(async () => (await runOf(created.id)).state.type === 'RUNNING', { timeoutMs: 15_000, what: 'the child to start the run' });
    process.kill(-child.pid!, 'SIGKILL');

    // Two survivors sweep the same pool: the hook must still run once.
    for (let i = 0; i < 2; i++) {
      const w = await createWorkerService(t.rt, t.modules, { pool: 'hooks-crash', flowsModule: FLOWS, heartbeatSeconds: 1, hostname: `survivor-${i}` });
      await w.start();
      survivors.push(w);
    }
    await waitFor(async () => (await runOf(created.id)).state.type === 'CRASHED', { timeoutMs: 15_000, what: 'CRASHED' });
    const call = await waitFor(() => callsFor(created.id).find((c) => c.hook === 'onCrashed'), { timeoutMs: 5000, what: 'the onCrashed hook' });
    assert.equal(call.state.type, 'CRASHED');
    assert.match(call.state.message ?? '', /no heartbeat/);
    // Let both survivors sweep again a few times; the claim keeps the hook from running twice.
    await Promise.all(survivors.map((s) => s.sweep()));
    await Promise.all(survivors.map((s) => s.sweep()));
    assert.equal(callsFor(created.id).filter((c) => c.hook === 'onCrashed').length, 1);
    assert.equal((await runOf(created.id)).state.type, 'CRASHED');
  });

  it('onCrashed runs on a worker that knows the flow when another process marked the crash, and again only once a dead holder\'s lease lapses', async () => {
    // A run of a pool no worker here serves, marked CRASHED as a sweeper without this flows module (or
    // one that died right after marking) leaves it; a holder's lease on its hooks, as a worker killed
    // mid-hook leaves it, lapses in 1.5 s.
    const dep = await t.api<{ id: string }>('POST', '/api/deployments', { name: 'crash-orphan', flow: 'crash-hooked', work_pool: 'nobody-serves-this' });
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
    const created = (await t.api<FlowRun>('POST', `/api/deployments/${dep.body.id}/runs`, {})).body;
    const store = t.modules.runs.store;
    assert.equal((await store.setFlowRunState(created.id, { type: 'PENDING' })).accepted, true);
    assert.equal((await store.setFlowRunState(created.id, { type: 'RUNNING' })).accepted, true);
    assert.equal((await store.setFlowRunState(created.id, { type: 'CRASHED', message: 'marked elsewhere' })).accepted, true);
    const crashed = await t.rt.pg.query<{ id: string }>(`SELECT id FROM flow_run_states WHERE flow_run_id = $1 AND type = 'CRASHED'`, [created.id]);
    await t.rt.redis.set(t.rt.names.keys.crashHookClaim(crashed.rows[0].id), 'a-dead-worker', 'PX', 1500);
    const [survivor] = survivors;
    const leased = Date.now();
    await survivor.sweep();
    assert.equal(callsFor(created.id).length, 0, 'nothing runs the hooks while another holds the lease');
    const call = await waitFor(async () => (await survivor.sweep(), callsFor(created.id).find((c) => c.hook === 'onCrashed')), { timeoutMs: 10_000, what: 'the onCrashed hook once the lease lapsed' });
    assert.ok(Date.now() - leased >= 1400, 'the hooks waited for the lease');
    assert.equal(call.state.type, 'CRASHED');
    assert.equal(call.state.message, 'marked elsewhere');
    await waitFor(async () => (await t.rt.redis.exists(t.rt.names.keys.crashHookDone(crashed.rows[0].id))) === 1, { what: 'the crash marked done' });
    await Promise.all(survivors.map((s) => s.sweep()));
    assert.equal(callsFor(created.id).filter((c) => c.hook === 'onCrashed').length, 1);
  });
});
