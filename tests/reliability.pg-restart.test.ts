import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { FlowRun } from '../schemas/flow-run.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { PrivatePostgres, skipWithout } from './support/private-services.ts';

/**
 * A PostgreSQL restart must not kill anything: it killed every flow worker (an unhandled 'error' on a
 * pg client the state writer held between batches), and a dead worker left its runs RUNNING and every
 * new run SCHEDULED until someone restarted it by hand. Every held client and pool must survive the
 * restart and resume by itself; runs executing meanwhile hold their state changes and finish.
 */

const FLOWS = 'tests/support/test-flows.ts';

describe('a PostgreSQL restart', { skip: skipWithout.postgres }, () => {
  let cluster: PrivatePostgres | undefined;
  let t: TestEngine | undefined;
  let worker: ChildProcess | undefined;
  let workerOutput = '';

  before(async () => {
    cluster = await PrivatePostgres.create();
    await cluster.start();
    t = await startTestEngine({ services: ['recorder', 'outbox', 'scheduler', 'api'], config: { databaseUrl: cluster.url, workerHeartbeatSeconds: 1 } });
    worker = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'worker', 'start', '--pool', 'pgr', '--flows', FLOWS, '--concurrency', '20'], {
      env: { ...process.env, REFLEX_NAMESPACE: t.config.namespace, REFLEX_DATABASE_URL: cluster.url, REFLEX_WORKER_HEARTBEAT_SECONDS: '1', REFLEX_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout?.on('data', (d: Buffer) => (workerOutput += d.toString()));
    worker.stderr?.on('data', (d: Buffer) => (workerOutput += d.toString()));
    await waitFor(() => workerOutput.includes('Reflex worker running'), { timeoutMs: 30_000, what: `the worker to start (output: ${workerOutput})` });
  });

  after(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    try {
      if (t && cluster && !cluster.running) await cluster.start().catch(() => {});
      await t?.cleanup();
    } finally {
      await cluster?.destroy();
    }
  });

  it('leaves the worker and every service running, and the runs it was executing finish', async (ctx) => {
    const engine = t as TestEngine;
    const pg = cluster as PrivatePostgres;
    const dep = await engine.api<{ id: string }>('POST', '/api/deployments', { name: 'pg-restart', flow: 'slow', work_pool: 'pgr' });
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
    const create = async (key: string) => {
      const res = await engine.api<FlowRun>('POST', `/api/deployments/${dep.body.id}/runs`, { parameters: { key, ms: 1500 } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id;
    };
    const stateOf = async (id: string) => (await engine.rt.pg.query<{ state_type: string }>('SELECT state_type FROM flow_runs WHERE id = $1', [id])).rows[0]?.state_type;

    // On a timeout, the failure names each run's state and what the worker printed: a bare "false"
    // does not tell a run held in the writer from one the worker never finished.
    const waitForStates = async (ids: string[], state: string, what: string) => {
      let states: Array<string | undefined> = [];
      try {
        await waitFor(async () => (states = await Promise.all(ids.map(stateOf))).every((s) => s === state), { timeoutMs: 30_000, what });
      } catch (err) {
        throw new Error(`${(err as Error).message}; states: ${JSON.stringify(states)}; worker output:\n${workerOutput.slice(-4000)}`);
      }
    };

    const before = await Promise.all(Array.from({ length: 10 }, (_, i) => create(`before-${i}`)));
    await waitFor(async () => (await Promise.all(before.map(stateOf))).every((s) => s === 'RUNNING'), { timeoutMs: 20_000, what: 'the runs to be RUNNING' });

    // A client checked out and idle when the server dies: this is what killed the worker.
    const held = await engine.rt.pg.connect();
    await pg.kill();
    const down = Date.now();
    await waitFor(async () => (await engine.api('GET', '/api/health')).body?.dependencies?.postgres?.status === 'down', { timeoutMs: 15_000, what: 'health to see PostgreSQL down' });
    await pg.start();
    ctx.diagnostic(`PostgreSQL down for ${Date.now() - down} ms`);
    held.release(true);

    assert.equal(worker?.exitCode, null, `the worker survived the restart (output: ${workerOutput})`);
    // The runs executing across the restart held their state changes and completed.
    await waitForStates(before, 'COMPLETED', 'the runs that were executing to complete');
    // New work flows through every service again: the API creates, the worker runs, the outbox publishes.
    const afterIds = await Promise.all(Array.from({ length: 5 }, (_, i) => create(`after-${i}`)));
    await waitForStates(afterIds, 'COMPLETED', 'runs created after the restart to complete');
    await waitFor(async () => (await engine.rt.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox')).rows[0].n === 0, { timeoutMs: 20_000, what: 'the outbox to drain' });
    const crashed = await engine.rt.pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM flow_run_states WHERE type = 'CRASHED'`);
    assert.equal(crashed.rows[0].n, 0, 'no run crashed because of the restart');
    assert.equal(worker?.exitCode, null, 'the worker is still running');
    assert.doesNotMatch(workerOutput, /Unhandled 'error' event|Connection terminated unexpectedly\n\s+at/);
  });
});
