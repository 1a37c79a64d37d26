import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { Waits } from '../modules/waits/index.ts';
import type { FlowRun, State, TaskRun } from '../schemas/flow-run.ts';
import { createWorkerService } from '../services/worker/main.ts';
import type { FlowWorker } from '../services/worker/worker.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/**
 * waitForEvent durable across a worker restart (issue 13): a deployed flow runs a task, then waits for an
 * event; its worker process is killed with SIGKILL while it waits. The run is marked CRASHED and, the flow
 * having retries, run again by a new worker: it must re-enter the same wait (its original window), answer
 * with exactly the matching event (sent while no worker ran, or after the new worker is up), and replay
 * the task's recorded result rather than running it a second time.
 */

type Detail = FlowRun & { state_history: State[]; task_runs: TaskRun[] };
type Answer = { prepared: { order: string; token: string }; event: string | null; attempt: number | null };
const FLOWS = 'tests/support/author-flows.ts';
let t: TestEngine;
let waits: Waits;
const children: ChildProcess[] = [];
const workers: FlowWorker[] = [];

before(async () => {
  t = await startTestEngine({ services: ['outbox', 'api'], config: { flowsModule: FLOWS, workerHeartbeatSeconds: 1 } });
  waits = new Waits(t.rt.pg);
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* already gone */ }
  for (const w of workers) await w.stop();
  await t?.cleanup();
});

const detail = async (id: string) => (await t.api<Detail>('GET', `/api/flow-runs/${id}`)).body;

async function emit(order: string, amount: number): Promise<string> {
  const r = await t.api<{ ids: string[] }>('POST', '/api/events', { event: 'order.shipped', resource: { 'reflex.resource.id': `order.${order}` }, payload: { amount } });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body.ids[0];
}

/** A worker in its own process (as on another host), started on `pool`; resolves once it serves. */
async function startChildWorker(pool: string): Promise<ChildProcess> {
  let output = '';
  const child = spawn('npx', ['tsx', 'cli/main.ts', 'worker', 'start', '--pool', pool, '--flows', FLOWS, '--concurrency', '1'], {
    env: { ...process.env, REFLEX_NAMESPACE: t.config.namespace, REFLEX_WORKER_HEARTBEAT_SECONDS: '1', REFLEX_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  await waitFor(() => output.includes('Reflex worker running'), { timeoutMs: 30_000, what: `the worker child to start (output: ${output})` });
  return child;
}

/** Deploys the waiting flow on `pool`, runs it on a child worker, and kills that worker (its process group) while the run waits. */
async function runThenKillWhileWaiting(pool: string, order: string, flowName = 'restart-waiter', timeout?: number): Promise<{ runId: string; firstTaskResult: unknown; timeoutAt: number }> {
  const child = await startChildWorker(pool);
  const dep = await t.api<{ id: string }>('POST', '/api/deployments', { name: `${flowName}-${pool}`, flow: flowName, work_pool: pool });
  assert.equal(dep.status, 201, JSON.stringify(dep.body));
  const created = await t.api<FlowRun>('POST', `/api/deployments/${dep.body.id}/runs`, { parameters: timeout === undefined ? { order } : { order, timeout } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const runId = created.body.id;
  // The wait row is opened after the task's states are committed: from then on the run is waiting.
  const opened = await waitFor(() => waits.get(runId, 'event-0'), { timeoutMs: 20_000, what: 'the run to open its wait' });
  assert.equal(opened.kind, 'event');
  assert.equal(opened.resolved_at, null);
  const before = await detail(runId);
  assert.equal(before.state.type, 'RUNNING');
  const tasks = before.task_runs.filter((r) => r.dynamic_key === 'prepare-shipment-0');
  assert.equal(tasks.length, 1);
  assert.equal(tasks[0].state.type, 'COMPLETED', 'the task before the wait is committed before the wait opens');

  const exited = once(child, 'exit');
  process.kill(-child.pid!, 'SIGKILL');
  await exited;
  return { runId, firstTaskResult: tasks[0].result, timeoutAt: Date.parse(opened.timeout_at ?? '') };
}

async function startSurvivor(pool: string): Promise<FlowWorker> {
  const w = await createWorkerService(t.rt, t.modules, { pool, flowsModule: FLOWS, heartbeatSeconds: 1, hostname: `survivor-${pool}` });
  await w.start();
  workers.push(w);
  return w;
}

async function assertCompletedWith(runId: string, eventId: string, firstTaskResult: unknown): Promise<void> {
  const done = await waitFor(async () => {
    const run = await detail(runId);
    return run.state.type === 'COMPLETED' || run.state.type === 'FAILED' ? run : null;
  }, { timeoutMs: 30_000, what: 'the retried run to finish' });
  assert.equal(done.state.type, 'COMPLETED', JSON.stringify(done.state));
  const names = done.state_history.map((s) => s.name);
  assert.deepEqual(names.slice(names.indexOf('Crashed')), ['Crashed', 'AwaitingRetry', 'Pending', 'Retrying', 'Completed']);
  assert.equal(done.run_count, 2);
  const answer = done.result as Answer;
  assert.equal(answer.event, eventId, 'the wait answers with exactly the matching event');
  assert.equal(answer.attempt, 2);
  // The task ran once: one task run, and the retry got its recorded result (the same random token).
  assert.deepEqual(answer.prepared, firstTaskResult);
  assert.equal(done.task_runs.filter((r) => r.task_name === 'prepare-shipment').length, 1);
  const wait = await waits.get(runId, 'event-0');
  assert.equal(wait?.outcome, 'matched');
  assert.equal((wait?.result as { id?: string } | null)?.id, eventId);
}

describe('waitForEvent across a worker restart', () => {
  it('an event sent while no worker runs is the answer of the crash retry; the task before the wait does not run again', async () => {
    const order = randomUUID();
    const { runId, firstTaskResult } = await runThenKillWhileWaiting('wait-restart-a', order);
    // No worker of the pool is alive: another order's event, then the matching one.
    await emit(`${order}-other`, 1);
    const id = await emit(order, 7);
    await startSurvivor('wait-restart-a');
    await assertCompletedWith(runId, id, firstTaskResult);
  });

  it('an event sent after the new worker took the run again ends the re-entered wait', async () => {
    const order = randomUUID();
    const { runId, firstTaskResult } = await runThenKillWhileWaiting('wait-restart-b', order);
    await startSurvivor('wait-restart-b');
    // The second attempt is running (its wait re-entered, still open) before the event exists.
    await waitFor(async () => {
      const run = await detail(runId);
      return run.run_count === 2 && run.state.type === 'RUNNING';
    }, { timeoutMs: 20_000, what: 'the crash retry to run' });
    assert.equal((await waits.get(runId, 'event-0'))?.resolved_at, null);
    const id = await emit(order, 9);
    await assertCompletedWith(runId, id, firstTaskResult);
  });

  it('without flow retries a crashed run stays CRASHED (as in Prefect): its wait is left unanswered, nothing runs again', async () => {
    const order = randomUUID();
    const { runId } = await runThenKillWhileWaiting('wait-restart-c', order, 'restart-waiter-once');
    const survivor = await startSurvivor('wait-restart-c');
    await waitFor(async () => (await detail(runId)).state.type === 'CRASHED', { timeoutMs: 20_000, what: 'CRASHED' });
    await emit(order, 3);
    // More sweeps: a crashed run without a retry policy is never scheduled again.
    await survivor.sweep();
    await survivor.sweep();
    const run = await detail(runId);
    assert.equal(run.state.type, 'CRASHED');
    assert.equal(run.run_count, 1);
    assert.ok(!run.state_history.some((s) => s.name === 'AwaitingRetry'));
    assert.equal(run.task_runs.filter((r) => r.task_name === 'prepare-shipment').length, 1);
    assert.equal((await waits.get(runId, 'event-0'))?.resolved_at, null);
  });

  it('the deadline passed while no worker ran: an event stored within the window is still the answer', async () => {
    const order = randomUUID();
    const { runId, firstTaskResult, timeoutAt } = await runThenKillWhileWaiting('wait-restart-d', order, 'restart-waiter', 4);
    const id = await emit(order, 11);
    assert.ok(Date.now() < timeoutAt, 'the event is sent within the window');
    // The new worker comes up only after the wait's deadline.
    await waitFor(() => Date.now() > timeoutAt + 200, { timeoutMs: 10_000, what: 'the wait deadline to pass' });
    await startSurvivor('wait-restart-d');
    await assertCompletedWith(runId, id, firstTaskResult);
  });

  it('the deadline passed while no worker ran and no event came within the window: the retry answers null (a later event does not count)', async () => {
    const order = randomUUID();
    const { runId, firstTaskResult, timeoutAt } = await runThenKillWhileWaiting('wait-restart-e', order, 'restart-waiter', 4);
    await emit(`${order}-other`, 1);
    await waitFor(() => Date.now() > timeoutAt + 200, { timeoutMs: 10_000, what: 'the wait deadline to pass' });
    await emit(order, 12);
    await startSurvivor('wait-restart-e');
    const done = await waitFor(async () => {
      const run = await detail(runId);
      return run.state.type === 'COMPLETED' || run.state.type === 'FAILED' ? run : null;
    }, { timeoutMs: 30_000, what: 'the retried run to finish' });
    assert.equal(done.state.type, 'COMPLETED', JSON.stringify(done.state));
    assert.equal(done.run_count, 2);
    assert.deepEqual(done.result, { prepared: firstTaskResult, event: null, attempt: 2 });
    assert.equal((await waits.get(runId, 'event-0'))?.outcome, 'timed_out');
  });
});
