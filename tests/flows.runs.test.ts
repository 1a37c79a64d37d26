import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ParameterValidationError, RunTimeoutError } from '../sdk/index.ts';
import type { FlowRun, LogLine, State, TaskRun } from '../schemas/flow-run.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import * as flows from './support/test-flows.ts';

/** Flows called directly (in this process), recorded through the in-process engine. */

type Detail = FlowRun & { state_history: State[]; task_runs: TaskRun[] };
let t: TestEngine;

before(async () => {
  t = await startTestEngine({ services: ['outbox', 'api', 'worker'], config: { flowsModule: 'tests/support/test-flows.ts', workerHeartbeatSeconds: 1 } });
});
after(async () => {
  await t?.cleanup();
});

async function runsOf(flowName: string): Promise<FlowRun[]> {
  const res = await t.api<{ items: FlowRun[] }>('GET', `/api/flow-runs?flow_name=${flowName}`);
  assert.equal(res.status, 200);
  return res.body.items;
}

async function detail(id: string): Promise<Detail> {
  const res = await t.api<Detail>('GET', `/api/flow-runs/${id}`);
  assert.equal(res.status, 200);
  return res.body;
}

async function onlyRun(flowName: string): Promise<Detail> {
  const runs = await runsOf(flowName);
  assert.equal(runs.length, 1, `one ${flowName} run`);
  return detail(runs[0].id);
}

const names = (d: Detail) => d.state_history.map((s) => s.name);

describe('flows called directly', () => {
  it('records a run with its parameters, result and state history', async () => {
    assert.equal(await flows.noop({ value: 5 }), 5);
    const run = await onlyRun('noop');
    assert.equal(run.state.type, 'COMPLETED');
    assert.deepEqual(run.parameters, { value: 5 });
    assert.equal(run.result, 5);
    assert.equal(run.run_count, 1);
    assert.equal(run.work_pool, null);
    assert.deepEqual(names(run), ['Pending', 'Running', 'Completed']);
  });

  it('retries after the configured delays, through AwaitingRetry and Retrying', async () => {
    const started = Date.now();
    assert.deepEqual(await flows.flaky({ key: 'direct', fail_times: 2 }), { attempts: 3 });
    const [a1, a2, a3] = flows.probes.attempts.get('direct') ?? [];
    assert.ok(a2 - a1 >= 290 && a2 - a1 < 900, `first delay ${a2 - a1} ms (0.3 s configured)`);
    assert.ok(a3 - a2 >= 590 && a3 - a2 < 1200, `second delay ${a3 - a2} ms (0.6 s configured)`);
    assert.ok(Date.now() - started < 3000);
    const run = await onlyRun('flaky');
    assert.equal(run.state.type, 'COMPLETED');
    assert.equal(run.run_count, 3);
    assert.deepEqual(names(run), ['Pending', 'Running', 'AwaitingRetry', 'Retrying', 'AwaitingRetry', 'Retrying', 'Completed']);
    const awaiting = run.state_history.filter((s) => s.name === 'AwaitingRetry');
    assert.match(awaiting[0].message ?? '', /attempt 1 fails on purpose/);
    const planned = Date.parse(awaiting[0].scheduled_time ?? '') - Date.parse(awaiting[0].timestamp);
    assert.ok(planned >= 250 && planned <= 310, `scheduled_time is the delay ahead: ${planned}`);
  });

  it('does not retry a NonRetriableError', async () => {
    await assert.rejects(flows.fatal({ key: 'fatal' }), /no point retrying/);
    assert.equal(flows.probes.attempts.get('fatal')?.length, 1);
    const run = await onlyRun('fatal');
    assert.equal(run.state.type, 'FAILED');
    assert.match(run.state.message ?? '', /NonRetriableError: no point retrying/);
  });

  it('fails a flow that outlives timeoutSeconds, aborting its signal', async () => {
    const started = Date.now();
    await assert.rejects(flows.tooSlow({ key: 'slow' }), (e: Error) => e instanceof RunTimeoutError);
    assert.ok(Date.now() - started < 1500, 'the caller is released at the timeout');
    assert.ok(flows.probes.aborted.has('slow'), 'the flow saw its signal abort');
    const run = await onlyRun('too-slow');
    assert.equal(run.state.type, 'FAILED');
    assert.match(run.state.message ?? '', /timed out after 0.3 s/);
  });

  it('validates parameters with the zod schema and fails the run without retrying', async () => {
    assert.equal(await flows.typedParams({ n: 2 }), 'x2');
    await assert.rejects(flows.typedParams({ n: 'two' as unknown as number }), (e: Error) => e instanceof ParameterValidationError && /n: /.test(e.message));
    const runs = await runsOf('typed-params');
    assert.deepEqual(runs.map((r) => r.state.type).sort(), ['COMPLETED', 'FAILED']);
  });
});

describe('tasks', () => {
  it('records every call of map and submit, concurrently', async () => {
    const out = await flows.fanOut({ values: [1, 2, 3] });
    assert.deepEqual(out, { doubled: [2, 4, 6], sum: 6, more: [3, 7] });
    const run = await onlyRun('fan-out');
    assert.equal(run.state.type, 'COMPLETED');
    const byName = (n: string) => run.task_runs.filter((tr) => tr.task_name === n);
    assert.equal(byName('double').length, 3);
    assert.equal(byName('add').length, 3);
    assert.ok(run.task_runs.every((tr) => tr.state.type === 'COMPLETED' && tr.flow_run_id === run.id));
    assert.deepEqual(byName('double').map((tr) => tr.dynamic_key).sort(), ['double-0', 'double-1', 'double-2']);
    assert.deepEqual(byName('double').map((tr) => tr.result).sort(), [2, 4, 6]);
  });

  it('retries a task and fails one that times out', async () => {
    assert.deepEqual(await flows.taskRetries({ key: 'k' }), { n: 3, timedOut: true });
    const run = await onlyRun('task-retries');
    const flaky = run.task_runs.find((tr) => tr.task_name === 'flaky-task');
    const slow = run.task_runs.find((tr) => tr.task_name === 'slow-task');
    assert.equal(flaky?.state.type, 'COMPLETED');
    assert.equal(flaky?.run_count, 3);
    assert.equal(slow?.state.type, 'FAILED');
    assert.match(slow?.state.message ?? '', /timed out after 0.2 s/);
    const history = await t.rt.pg.query<{ name: string }>('SELECT name FROM task_run_states WHERE task_run_id = $1 ORDER BY id', [flaky?.id]);
    assert.deepEqual(history.rows.map((r) => r.name), ['Pending', 'Running', 'AwaitingRetry', 'Retrying', 'AwaitingRetry', 'Retrying', 'Completed']);
  });

  it('returns a cached result without running the task again, until the cache expires', async () => {
    const first = await flows.cacheFlow({ x: 3, user: 'u1', seen: 1 });
    assert.deepEqual(first, { first: { square: 9 }, second: { square: 9 }, keyed: 1 });
    assert.equal(flows.probes.taskCalls.get('cached-square'), 1);
    const second = await flows.cacheFlow({ x: 4, user: 'u1', seen: 2 });
    assert.equal(second.keyed, 1, 'a cacheKey function keys on what it returns (the user id)');
    assert.equal(flows.probes.taskCalls.get('keyed-cache'), 1);
    assert.equal(flows.probes.taskCalls.get('cached-square'), 2, 'x=4 is a different input');
    const runs = await runsOf('cache-flow');
    const firstRun = await detail(runs[runs.length - 1].id);
    const squares = firstRun.task_runs.filter((tr) => tr.task_name === 'cached-square');
    assert.deepEqual(squares.map((tr) => tr.state.name).sort(), ['Cached', 'Completed']);
    assert.ok(squares.every((tr) => tr.cache_key?.startsWith('cached-square:')));

    await new Promise((r) => setTimeout(r, 1100)); // cacheExpirationSeconds: 1
    await flows.cacheFlow({ x: 3, user: 'u2', seen: 3 });
    assert.equal(flows.probes.taskCalls.get('cached-square'), 3, 'an expired cache entry is recomputed');
  });
});

describe('subflows and logs', () => {
  it('records subflows with their parent flow run and parent task run', async () => {
    assert.deepEqual(await flows.parent(), { a: 2, b: 11 });
    const parentRun = await onlyRun('parent');
    const children = await Promise.all((await runsOf('child')).map((r) => detail(r.id)));
    assert.equal(children.length, 2);
    assert.ok(children.every((c) => c.parent_flow_run_id === parentRun.id && c.state.type === 'COMPLETED'));
    const inTask = parentRun.task_runs.find((tr) => tr.task_name === 'child-in-task');
    assert.ok(inTask);
    assert.deepEqual(children.map((c) => c.parent_task_run_id).sort(), [inTask.id, null].sort());
  });

  it('stores run log lines, readable through the API', async () => {
    const parentRun = (await runsOf('parent'))[0];
    const logs = await waitFor(async () => {
      const res = await t.api<{ items: LogLine[] }>('GET', `/api/flow-runs/${parentRun.id}/logs`);
      return res.body.items.length > 0 ? res.body.items : null;
    });
    const hello = logs.find((l) => l.message === 'parent says hello');
    assert.ok(hello, JSON.stringify(logs));
    assert.equal(hello.level, 30);
    assert.equal(hello.fields.step, 1);
  });
});
