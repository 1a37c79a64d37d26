import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Msg, Subscription } from '@nats-io/nats-core';
import type { ReflexEvent } from '../schemas/event.ts';
import type { FlowRun, State } from '../schemas/flow-run.ts';
import { flowRunJobId } from '../schemas/jobs.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import * as flows from './support/test-flows.ts';

/** Deployment runs executed by the in-process worker of the `default` pool. */

type Detail = FlowRun & { state_history: State[] };
let t: TestEngine;

before(async () => {
  t = await startTestEngine({ services: ['outbox', 'api', 'worker'], config: { flowsModule: 'tests/support/test-flows.ts', workerHeartbeatSeconds: 1 } });
});
after(async () => {
  await t?.cleanup();
});
beforeEach(() => {
  flows.probes.maxRunning = 0;
});

async function deploy(name: string, flow: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await t.api<{ id: string }>('POST', '/api/deployments', { name, flow, work_pool: 'default', ...extra });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.id;
}

async function runDeployment(id: string, parameters: Record<string, unknown>): Promise<FlowRun> {
  const res = await t.api<FlowRun>('POST', `/api/deployments/${id}/runs`, { parameters });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

async function detail(id: string): Promise<Detail> {
  return (await t.api<Detail>('GET', `/api/flow-runs/${id}`)).body;
}

const finished = (id: string, what = 'the run to finish') =>
  waitFor(async () => {
    const run = await detail(id);
    return ['COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED'].includes(run.state.type) ? run : null;
  }, { timeoutMs: 15_000, what });

describe('worker', () => {
  it('runs a deployment run and publishes its state events in order', async () => {
    const events: ReflexEvent[] = [];
    const sub: Subscription = t.rt.nats.subscribe(t.rt.names.eventFilterSubject('reflex.flow-run.*'), {
      callback: (_err: Error | null, msg: Msg) => {
        events.push(msg.json<ReflexEvent>());
      },
    });
    const id = await deploy('noop-deployment', 'noop', { parameters: { value: 'hello' } });
    const created = await runDeployment(id, {});
    const run = await finished(created.id);
    assert.equal(run.state.type, 'COMPLETED');
    assert.equal(run.result, 'hello');
    assert.equal(run.work_pool, 'default');
    const mine = await waitFor(() => {
      const e = events.filter((ev) => ev.resource['reflex.resource.id'] === `reflex.flow-run.${created.id}`);
      return e.length >= 4 ? e : null;
    }, { what: 'four state events' });
    sub.unsubscribe();
    assert.deepEqual(mine.map((e) => e.event), ['reflex.flow-run.Scheduled', 'reflex.flow-run.Pending', 'reflex.flow-run.Running', 'reflex.flow-run.Completed']);
    const related = mine[3].related.map((r) => `${r['reflex.resource.role']}:${r['reflex.resource.id']}`);
    assert.ok(related.includes(`deployment:reflex.deployment.${id}`), related.join(', '));
    assert.ok(related.includes('work-pool:reflex.work-pool.default'));
    // The run's states are its record: its job is removed as it completes (core/jobs.ts), not kept.
    const queue = t.modules.runs.queues.queue('default');
    await waitFor(async () => (await queue.getJobState(flowRunJobId(created.id, 1))) === 'unknown', { what: "the completed run's job to be removed" });
  });

  it('retries a failed run as a new delayed job after its retry delay', async () => {
    const id = await deploy('flaky-deployment', 'flaky');
    const created = await runDeployment(id, { key: 'worker', fail_times: 1 });
    const run = await finished(created.id);
    assert.equal(run.state.type, 'COMPLETED');
    assert.equal(run.run_count, 2);
    assert.deepEqual(run.state_history.map((s) => s.name), ['Scheduled', 'Pending', 'Running', 'AwaitingRetry', 'Pending', 'Retrying', 'Completed']);
    const [a1, a2] = flows.probes.attempts.get('worker') ?? [];
    assert.ok(a2 - a1 >= 290 && a2 - a1 < 1500, `retry delay ${a2 - a1} ms (0.3 s configured)`);
  });

  it('cancels a running flow through its AbortSignal, then marks it CANCELLED', async () => {
    const id = await deploy('slow-deployment', 'slow');
    const created = await runDeployment(id, { key: 'cancel-me', ms: 30_000 });
    await waitFor(async () => (await detail(created.id)).state.type === 'RUNNING', { what: 'RUNNING' });
    const started = Date.now();
    const res = await t.api<FlowRun>('POST', `/api/flow-runs/${created.id}/cancel`, {});
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const run = await finished(created.id);
    assert.equal(run.state.type, 'CANCELLED');
    assert.ok(Date.now() - started < 3000, 'cancelled within seconds, not after the 30 s sleep');
    assert.ok(flows.probes.aborted.has('cancel-me'), 'the flow saw the abort');
    assert.deepEqual(run.state_history.map((s) => s.type).slice(-3), ['RUNNING', 'CANCELLING', 'CANCELLED']);
  });

  it('holds runs of a deployment at its concurrency limit without blocking the worker', async () => {
    const id = await deploy('limited-deployment', 'slow', { concurrency_limit: 1 });
    const runs = await Promise.all([1, 2, 3].map((i) => runDeployment(id, { key: `limit-${i}`, ms: 250 })));
    const noop = await runDeployment(await deploy('noop-while-limited', 'noop'), { value: 1 });
    assert.equal((await finished(noop.id)).state.type, 'COMPLETED');
    const done = await Promise.all(runs.map((r) => finished(r.id)));
    assert.ok(done.every((r) => r.state.type === 'COMPLETED'));
    assert.equal(flows.probes.maxRunning, 1, 'never two runs of the deployment at once');
  });

  it('fails a run whose flow the worker does not have, saying which module it loaded', async () => {
    const id = await deploy('missing-flow', 'no-such-flow');
    const run = await finished((await runDeployment(id, {})).id);
    assert.equal(run.state.type, 'FAILED');
    assert.match(run.state.message ?? '', /flow "no-such-flow" is not in this worker's flows module tests\/support\/test-flows.ts/);
  });
});

describe('global concurrency limits', () => {
  it('never lets two holders of a limit of 1 overlap', async () => {
    const put = await t.api('PUT', '/api/concurrency-limits/slot-test', { limit: 1 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    flows.probes.holders.length = 0;
    const who = await Promise.all(['a', 'b', 'c'].map((w) => flows.limited({ who: w, ms: 150 })));
    assert.deepEqual(who, ['a', 'b', 'c']);
    const spans = [...flows.probes.holders].sort((x, y) => x.start - y.start);
    assert.equal(spans.length, 3);
    for (let i = 1; i < spans.length; i++) assert.ok(spans[i].start >= spans[i - 1].end, `${spans[i].who} started before ${spans[i - 1].who} released`);
    const info = await t.api<{ active_slots: number }>('GET', '/api/concurrency-limits/slot-test');
    assert.equal(info.body.active_slots, 0, 'every slot released');
  });
});
