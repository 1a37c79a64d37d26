import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FlowRun } from '../schemas/flow-run.ts';
import { JOBS } from '../core/jobs.ts';
import { flowRunJobId } from '../schemas/jobs.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { PrivatePostgres, skipWithout } from './support/private-services.ts';

/**
 * A flow run whose job comes due while PostgreSQL is down: the worker cannot read the run, and the job
 * must be tried again once PostgreSQL is back rather than fail for good with its run left SCHEDULED.
 */

describe('a flow run due during a PostgreSQL outage', { skip: skipWithout.postgres }, () => {
  let cluster: PrivatePostgres | undefined;
  let t: TestEngine | undefined;

  before(async () => {
    cluster = await PrivatePostgres.create();
    await cluster.start();
    t = await startTestEngine({ services: ['api', 'worker'], config: { databaseUrl: cluster.url, flowsModule: 'tests/support/test-flows.ts' } });
  });
  after(async () => {
    try {
      if (t && cluster && !cluster.running) await cluster.start().catch(() => {});
      await t?.cleanup();
    } finally {
      await cluster?.destroy();
    }
  });

  it('runs once PostgreSQL is back', async () => {
    const engine = t as TestEngine;
    const server = cluster as PrivatePostgres;
    const dep = await engine.api<{ id: string }>('POST', '/api/deployments', { name: 'pg-outage', flow: 'noop', work_pool: 'default' });
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
    const created = await engine.api<FlowRun>('POST', `/api/deployments/${dep.body.id}/runs`, { scheduled_time: new Date(Date.now() + 1500).toISOString() });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const queue = engine.rt.queues.queue(JOBS.flowRun, 'default');
    const jobId = flowRunJobId(created.body.id, 1);

    await server.kill();
    // The job comes due and its worker fails to read the run: it must wait for another try, not fail.
    await waitFor(async () => ((await queue.getJob(jobId))?.attemptsMade ?? 0) >= 1, { timeoutMs: 15_000, what: 'the job to meet the outage' });
    assert.notEqual(await queue.getJobState(jobId), 'failed', 'the job is kept for another try');

    await server.start();
    const run = await waitFor(async () => {
      const r = await engine.api<FlowRun>('GET', `/api/flow-runs/${created.body.id}`);
      return r.body?.state?.type === 'COMPLETED' ? r.body : null;
    }, { timeoutMs: 30_000, what: 'the run to complete once PostgreSQL is back' });
    assert.equal(run.run_count, 1);
  });
});
