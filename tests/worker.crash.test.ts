import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { FlowRun, State } from '../schemas/flow-run.ts';
import { createWorkerService } from '../services/worker/main.ts';
import type { FlowWorker } from '../services/worker/worker.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/**
 * A worker process killed with SIGKILL mid-run: its run must be marked CRASHED within a bounded time
 * (heartbeat TTL = 3 × 1 s here, plus one sweep interval) by another worker, then retried by it.
 */

type Detail = FlowRun & { state_history: State[] };
let t: TestEngine;
let child: ChildProcess | undefined;
let survivor: FlowWorker | undefined;
const FLOWS = 'tests/support/test-flows.ts';

before(async () => {
  t = await startTestEngine({ services: ['outbox', 'api'], config: { flowsModule: FLOWS, workerHeartbeatSeconds: 1 } });
});
after(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await survivor?.stop();
  await t?.cleanup();
});

describe('crash detection', () => {
  it('marks the run of a kill -9ed worker CRASHED, then retries it on another worker', async () => {
    let output = '';
    child = spawn('npx', ['tsx', 'cli/main.ts', 'worker', 'start', '--pool', 'crash', '--flows', FLOWS, '--concurrency', '2'], {
      env: { ...process.env, REFLEX_NAMESPACE: t.config.namespace, REFLEX_WORKER_HEARTBEAT_SECONDS: '1', REFLEX_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(() => output.includes('Reflex worker running'), { timeoutMs: 30_000, what: `the worker child to start (output: ${output})` });

    const dep = await t.api<{ id: string }>('POST', '/api/deployments', { name: 'crashy', flow: 'crashy', work_pool: 'crash' });
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
    const created = (await t.api<FlowRun>('POST', `/api/deployments/${dep.body.id}/runs`, {})).body;
    const detail = async () => (await t.api<Detail>('GET', `/api/flow-runs/${created.id}`)).body;
    await waitFor(async () => (await detail()).state.type === 'RUNNING', { timeoutMs: 15_000, what: 'the child to start the run' });

    // npx runs tsx which runs node: kill the whole process group, as a lost host would.
    process.kill(-child.pid!, 'SIGKILL');
    const killedAt = Date.now();

    survivor = await createWorkerService(t.rt, t.modules, { pool: 'crash', flowsModule: FLOWS, heartbeatSeconds: 1 });
    await survivor.start();

    const crashed = await waitFor(async () => {
      const run = await detail();
      return run.state_history.some((s) => s.type === 'CRASHED') ? run : null;
    }, { timeoutMs: 15_000, what: 'CRASHED' });
    const crashState = crashed.state_history.find((s) => s.type === 'CRASHED') as State;
    const detectedAfter = Date.parse(crashState.timestamp) - killedAt;
    assert.ok(detectedAfter < 6000, `crash detected ${detectedAfter} ms after the kill (bound: TTL 3 s + sweep 1 s)`);
    assert.match(crashState.message ?? '', /no heartbeat/);

    const done = await waitFor(async () => {
      const run = await detail();
      return run.state.type === 'COMPLETED' ? run : null;
    }, { timeoutMs: 15_000, what: 'the retry to complete' });
    assert.equal(done.run_count, 2);
    assert.deepEqual(done.result, { attempt: 2 });
    const names = done.state_history.map((s) => s.name);
    assert.deepEqual(names.slice(names.indexOf('Crashed')), ['Crashed', 'AwaitingRetry', 'Pending', 'Retrying', 'Completed']);
  });
});
