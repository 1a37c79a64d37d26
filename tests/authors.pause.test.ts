import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { FlowRun, State, TaskRun } from '../schemas/flow-run.ts';
import { calls } from './support/author-flows.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/**
 * Pause and suspend with typed input, through deployments served by a worker and the API/CLI as a user
 * would: PAUSED with what it awaits in the event, resume with invalid then valid input, a second resume
 * refused, timeouts, and a suspended run resumed without running its finished task again.
 */

type Detail = FlowRun & { state_history: State[]; task_runs: TaskRun[] };
let t: TestEngine;
before(async () => {
  t = await startTestEngine({ services: ['outbox', 'recorder', 'api', 'worker'], config: { flowsModule: 'tests/support/author-flows.ts', workerHeartbeatSeconds: 1 } });
  for (const flow of ['approval', 'suspender']) {
    const dep = await t.api('POST', '/api/deployments', { name: flow, flow });
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
  }
});
after(async () => {
  await t?.cleanup();
});

const detail = async (id: string) => (await t.api<Detail>('GET', `/api/flow-runs/${id}`)).body;
async function start(flow: string, parameters: Record<string, unknown>): Promise<string> {
  const deps = (await t.api<{ items: Array<{ id: string; name: string }> }>('GET', '/api/deployments')).body.items;
  const dep = deps.find((d) => d.name === flow)!;
  const run = await t.api<FlowRun>('POST', `/api/deployments/${dep.id}/runs`, { parameters });
  assert.equal(run.status, 201, JSON.stringify(run.body));
  return run.body.id;
}
const inState = (id: string, type: string, name?: string) =>
  waitFor(async () => {
    const d = await detail(id);
    return d.state.type === type && (!name || d.state.name === name) ? d : null;
  }, { timeoutMs: 25_000, what: `run ${id} in ${type}${name ? `/${name}` : ''}` });

describe('pause and resume', () => {
  it('pauses with what it awaits; invalid input is a 400 with field paths; valid input resumes; a second resume is refused', async () => {
    const id = await start('approval', { key: 'p1', timeout: 60 });
    const paused = await inState(id, 'PAUSED', 'Paused');
    assert.match(paused.state.message ?? '', /waiting for input/);

    const pause = await t.api<{ kind: string; spec: { input_schema: { properties: Record<string, unknown>; required: string[] }; timeout_seconds: number } }>('GET', `/api/flow-runs/${id}/pause`);
    assert.equal(pause.status, 200);
    assert.equal(pause.body.kind, 'pause');
    assert.deepEqual(pause.body.spec.input_schema.required, ['approved']);
    assert.equal(pause.body.spec.timeout_seconds, 60);

    const event = await waitFor(async () => {
      const r = await t.api<{ items: Array<{ payload: { details?: { input_schema: unknown; timeout_seconds: number; awaiting: string } } }> }>('POST', '/api/events/filter', { event: 'reflex.flow-run.Paused', resource_id: `reflex.flow-run.${id}` });
      return r.body.items[0];
    }, { timeoutMs: 20_000, what: 'the Paused event' });
    assert.equal(event.payload.details?.awaiting, 'input');
    assert.equal(event.payload.details?.timeout_seconds, 60);
    assert.deepEqual(event.payload.details?.input_schema, pause.body.spec.input_schema);

    const bad = await t.api<{ error: { code: string; issues: Array<{ path: string }> } }>('POST', `/api/flow-runs/${id}/resume`, { input: { approved: 'yes', extra: 1 } });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.ok(bad.body.error.issues.some((i) => i.path === 'input.approved'), JSON.stringify(bad.body));
    assert.equal((await detail(id)).state.type, 'PAUSED', 'a refused resume changes nothing');
    const missing = await t.api<{ error: { issues: Array<{ path: string }> } }>('POST', `/api/flow-runs/${id}/resume`, {});
    assert.equal(missing.status, 400);
    assert.deepEqual(missing.body.error.issues.map((i) => i.path), ['input.approved']);
    assert.equal((await t.api('POST', `/api/flow-runs/${id}/resume`, { input: { approved: true }, junk: 1 })).status, 400);

    const ok = await t.api<FlowRun>('POST', `/api/flow-runs/${id}/resume`, { input: { approved: true } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const done = await inState(id, 'COMPLETED');
    assert.deepEqual(done.result, { prepared: { prepared: 'p1' }, input: { approved: true, note: '' } });
    assert.equal(done.run_count, 1, 'a resume continues the attempt');
    assert.deepEqual(done.state_history.map((s) => s.name).slice(-3), ['Paused', 'Resumed', 'Completed']);
    assert.equal((await t.api('POST', `/api/flow-runs/${id}/resume`, { input: { approved: false } })).status, 409);
  });

  it('a pause nobody resumes fails the run with a clear message when it times out', async () => {
    const id = await start('approval', { key: 'p2', timeout: 0.5 });
    const failed = await inState(id, 'FAILED');
    assert.match(failed.state.message ?? '', /paused for input, and nobody resumed it within 0.5 s/);
    assert.equal((await t.api('POST', `/api/flow-runs/${id}/resume`, { input: { approved: true } })).status, 409);
  });

  it('resume of an unknown or running run is refused', async () => {
    assert.equal((await t.api('POST', '/api/flow-runs/00000000-0000-7000-8000-000000000000/resume', {})).status, 404);
    assert.equal((await t.api('POST', '/api/flow-runs/nope/resume', {})).status, 404);
  });

  it('suspend gives the slot back; `reflex run resume` starts it again and its finished task is not run twice', async () => {
    const id = await start('suspender', { key: 's1', timeout: 60 });
    await inState(id, 'PAUSED', 'Suspended');
    assert.equal(calls.prepare.get('s1'), 1);

    const bad = await runCli(['run', 'resume', id, '--input', '{"approved": 3}']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.output, /input\.approved/);

    const ok = await runCli(['run', 'resume', id, '--input', '{"approved": true, "note": "ship it"}']);
    assert.equal(ok.code, 0, ok.output);
    assert.match(ok.output, /resumed .*SCHEDULED\/Resumed/);
    const done = await inState(id, 'COMPLETED');
    assert.deepEqual(done.result, { prepared: { prepared: 's1' }, input: { approved: true, note: 'ship it' }, again: { prepared: 's1-after' } });
    assert.equal(calls.prepare.get('s1'), 1, 'the task finished before the suspension is not run again');
    assert.equal(calls.prepare.get('s1-after'), 1);
    assert.deepEqual(done.task_runs.map((r) => r.dynamic_key).sort(), ['prepare-0', 'prepare-1']);
  });

  it('a suspension nobody resumes is failed by the worker sweep at its timeout', async () => {
    const id = await start('suspender', { key: 's2', timeout: 0.5 });
    const failed = await inState(id, 'FAILED');
    assert.match(failed.state.message ?? '', /suspended for input, and nobody resumed it within 0.5 s/);
  });

  it('a run paused in its flow whose process is killed is CRASHED by the sweep; a run paused through the API before it ran is left PAUSED', async () => {
    // Paused through the store before any process ran it: nobody holds it, and nobody should mark it CRASHED.
    const idle = await t.api<{ id: string }>('POST', '/api/deployments', { name: 'approval-idle', flow: 'approval', work_pool: 'nobody-serves-this' });
    const idleRun = (await t.api<FlowRun>('POST', `/api/deployments/${idle.body.id}/runs`, { parameters: { key: 'idle', timeout: 60 } })).body.id;
    assert.equal((await t.modules.runs.store.setFlowRunState(idleRun, { type: 'PAUSED', name: 'Paused' })).accepted, true);

    let output = '';
    const child = spawn('npx', ['tsx', 'cli/main.ts', 'worker', 'start', '--pool', 'pause-crash', '--flows', 'tests/support/author-flows.ts'], {
      env: { ...process.env, REFLEX_NAMESPACE: t.config.namespace, REFLEX_WORKER_HEARTBEAT_SECONDS: '1', REFLEX_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    try {
      child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      await waitFor(() => output.includes('Reflex worker running'), { timeoutMs: 30_000, what: `the worker child to start (output: ${output})` });
      const dep = await t.api<{ id: string }>('POST', '/api/deployments', { name: 'approval-crash', flow: 'approval', work_pool: 'pause-crash' });
      const id = (await t.api<FlowRun>('POST', `/api/deployments/${dep.body.id}/runs`, { parameters: { key: 'pc', timeout: 600 } })).body.id;
      await inState(id, 'PAUSED', 'Paused');
      process.kill(-child.pid!, 'SIGKILL');
      const crashed = await inState(id, 'CRASHED');
      assert.match(crashed.state.message ?? '', /stopped while it was paused/);
    } finally {
      if (child.exitCode === null) try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    }
    // The sweep that crashed the killed run read the idle one too (paused well over a heartbeat TTL ago).
    assert.equal((await detail(idleRun)).state.type, 'PAUSED');
  });
});

function runCli(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn('npx', ['tsx', 'cli/main.ts', ...args], { env: { ...process.env, REFLEX_API_URL: t.url }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}
