import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SchedulerService } from '../services/scheduler/main.ts';
import { requireDeployment, upcomingStartTimes } from '../modules/runs/index.ts';
import { DeploymentInputSchema } from '../schemas/deployment.ts';
import { flowRunJobId } from '../schemas/jobs.ts';
import { startTestEngine, testNamespace, waitFor, type TestEngine } from './support/harness.ts';

const HOUR = 3600_000;
const iso = (ds: Date[]) => ds.map((d) => d.toISOString());

describe('schedule computation (pure, fixed clock)', () => {
  it('reads a cron in its time zone', () => {
    const times = upcomingStartTimes({ cron: '0 9 * * *', timezone: 'Europe/Paris', active: true }, { now: new Date('2025-01-10T00:00:00Z'), horizonMs: 48 * HOUR, maxRuns: 10 });
    assert.deepEqual(iso(times), ['2025-01-10T08:00:00.000Z', '2025-01-11T08:00:00.000Z']);
  });

  it('spring forward: a 02:30 daily cron in the skipped hour runs once, at 03:00 local', () => {
    const times = upcomingStartTimes({ cron: '30 2 * * *', timezone: 'America/New_York', active: true }, { now: new Date('2025-03-08T00:00:00Z'), horizonMs: 72 * HOUR, maxRuns: 10 });
    assert.deepEqual(iso(times), ['2025-03-08T07:30:00.000Z', '2025-03-09T07:00:00.000Z', '2025-03-10T06:30:00.000Z']);
  });

  it('fall back: a 01:30 daily cron in the repeated hour runs once, not twice', () => {
    const times = upcomingStartTimes({ cron: '30 1 * * *', timezone: 'America/New_York', active: true }, { now: new Date('2025-11-01T12:00:00Z'), horizonMs: 48 * HOUR, maxRuns: 10 });
    assert.deepEqual(iso(times), ['2025-11-02T05:30:00.000Z', '2025-11-03T06:30:00.000Z']);
  });

  it('counts intervals from the anchor, bounded by horizon and max runs', () => {
    const s = { interval_seconds: 900, anchor: '2025-01-01T00:05:00Z', active: true };
    assert.deepEqual(iso(upcomingStartTimes(s, { now: new Date('2025-01-01T01:00:00Z'), horizonMs: HOUR, maxRuns: 10 })), [
      '2025-01-01T01:05:00.000Z', '2025-01-01T01:20:00.000Z', '2025-01-01T01:35:00.000Z', '2025-01-01T01:50:00.000Z',
    ]);
    assert.equal(upcomingStartTimes(s, { now: new Date('2025-01-01T01:00:00Z'), horizonMs: 10 * HOUR, maxRuns: 3 }).length, 3);
    assert.deepEqual(iso(upcomingStartTimes(s, { now: new Date('2025-01-01T01:05:00Z'), horizonMs: 1000, maxRuns: 3 })), ['2025-01-01T01:05:00.000Z']);
  });
});

describe('scheduler service', () => {
  let a: TestEngine;
  let b: TestEngine;
  before(async () => {
    const namespace = testNamespace('sch');
    const config = { schedulerLoopSeconds: 3600, scheduleHorizonSeconds: 3600, scheduleMaxRuns: 10, lateAfterSeconds: 15 };
    a = await startTestEngine({ namespace, services: ['outbox', 'scheduler'], config });
    b = await startTestEngine({ namespace, services: ['scheduler'], config });
  });
  after(async () => {
    await b.stop();
    await a.cleanup();
  });

  const schedulerOf = (t: TestEngine) => (t.services.find((s) => s.name === 'scheduler') as SchedulerService).scheduler;

  it('two scheduler replicas create each scheduled run once', async () => {
    const d = await a.modules.runs.deployments.create(DeploymentInputSchema.parse({ name: 'every-5-min', flow: 'tick', schedules: [{ interval_seconds: 300 }] }));
    const now = new Date();
    await Promise.all([schedulerOf(a).tick(now), schedulerOf(b).tick(now), schedulerOf(a).tick(now), schedulerOf(b).tick(now)]);
    const runs = await a.rt.pg.query('SELECT expected_start_time FROM flow_runs WHERE deployment_id = $1 ORDER BY expected_start_time', [d.id]);
    assert.equal(runs.rows.length, 10, 'an hour of 5-minute runs, each once');
    const distinct = new Set(runs.rows.map((r) => r.expected_start_time.toISOString()));
    assert.equal(distinct.size, 10);
    const states = await a.rt.pg.query('SELECT count(*)::int AS n FROM flow_run_states s JOIN flow_runs f ON f.id = s.flow_run_id WHERE f.deployment_id = $1', [d.id]);
    assert.equal(states.rows[0].n, 10, 'one Scheduled state (and event) per run');
  });

  it('skips paused deployments, and pausing removes the runs planned ahead', async () => {
    const d = await a.modules.runs.deployments.create(DeploymentInputSchema.parse({ name: 'paused-one', flow: 'tick', paused: true, schedules: [{ cron: '*/10 * * * *' }] }));
    await schedulerOf(a).tick(new Date());
    assert.equal((await a.rt.pg.query('SELECT 1 FROM flow_runs WHERE deployment_id = $1', [d.id])).rowCount, 0);
    await a.modules.runs.deployments.update(d.id, { paused: false });
    await schedulerOf(a).tick(new Date());
    assert.ok(((await a.rt.pg.query('SELECT 1 FROM flow_runs WHERE deployment_id = $1', [d.id])).rowCount ?? 0) >= 6);
    await a.modules.runs.deployments.update(d.id, { paused: true });
    assert.equal((await a.rt.pg.query('SELECT 1 FROM flow_runs WHERE deployment_id = $1', [d.id])).rowCount, 0);
  });

  it('marks runs that did not start on time as Late, once, with an event', async () => {
    const sub = a.rt.nats.subscribe(a.rt.names.eventFilterSubject('reflex.flow-run.Late'));
    const seen: string[] = [];
    void (async () => {
      for await (const m of sub) seen.push(a.rt.bus.decode(m.data).resource['reflex.resource.id']);
    })();
    const d = await a.modules.runs.deployments.create(DeploymentInputSchema.parse({ name: 'late-one', flow: 'slow' }));
    const past = new Date(Date.now() - 60_000);
    const { run } = await a.modules.runs.deploymentRuns.create(await requireDeployment(a.rt.pg, d.id), { scheduled_time: past });
    const { run: onTime } = await a.modules.runs.deploymentRuns.create(await requireDeployment(a.rt.pg, d.id), { scheduled_time: new Date(Date.now() - 5_000) });
    const [ra, rb] = await Promise.all([schedulerOf(a).markLate(new Date()), schedulerOf(b).markLate(new Date())]);
    assert.ok(ra + rb >= 1);
    const after = await a.modules.runs.store.getFlowRun(run.id);
    assert.equal(after?.state.type, 'SCHEDULED');
    assert.equal(after?.state.name, 'Late');
    assert.equal(after?.state.scheduled_time, past.toISOString(), 'Late keeps the original start time');
    assert.equal((await a.modules.runs.store.getFlowRun(onTime.id))?.state.name, 'Scheduled', 'within the grace period');
    await waitFor(() => seen.includes(`reflex.flow-run.${run.id}`), { what: 'Late event' });
    const lateStates = await a.rt.pg.query("SELECT count(*)::int AS n FROM flow_run_states WHERE flow_run_id = $1 AND name = 'Late'", [run.id]);
    assert.equal(lateStates.rows[0].n, 1, 'two replicas, one Late transition');
    // A Late run can still start.
    assert.equal((await a.modules.runs.store.setFlowRunState(run.id, { type: 'PENDING' })).accepted, true);
    sub.unsubscribe();
  });

  it('re-enqueues a retry whose worker died before enqueueing it (AwaitingRetry past its time becomes Late)', async () => {
    const d = await a.modules.runs.deployments.create(DeploymentInputSchema.parse({ name: 'orphaned-retry', flow: 'slow', work_pool: 'orphans' }));
    const { run } = await a.modules.runs.deploymentRuns.create(await requireDeployment(a.rt.pg, d.id));
    const store = a.modules.runs.store;
    const queue = a.modules.runs.queues.queue('orphans');
    await queue.remove(flowRunJobId(run.id, 1));
    await store.setFlowRunState(run.id, { type: 'PENDING' });
    assert.equal((await store.setFlowRunState(run.id, { type: 'RUNNING' })).accepted, true);
    // The attempt failed and the run was scheduled for a retry, but no job for attempt 2 was ever added.
    const due = new Date(Date.now() - 60_000).toISOString();
    assert.equal((await store.setFlowRunState(run.id, { type: 'SCHEDULED', name: 'AwaitingRetry', scheduled_time: due })).accepted, true);
    assert.equal(await queue.getJob(flowRunJobId(run.id, 2)), undefined);

    await schedulerOf(a).markLate(new Date());
    assert.equal((await store.getFlowRun(run.id))?.state.name, 'Late');
    const job = await queue.getJob(flowRunJobId(run.id, 2));
    assert.ok(job, 'the next attempt is enqueued again');
    // With the run's facts, so the worker claims it without reading it first.
    assert.deepEqual(job.data, {
      flow_run_id: run.id,
      flow_name: 'slow',
      attempt: 2,
      run: { deployment_id: run.deployment_id, work_pool: run.work_pool, concurrency_key: null, created: run.created, priority: 0 },
    });
  });
});
