import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Msg } from '@nats-io/nats-core';
import type { ReflexEvent } from '../schemas/event.ts';
import type { FlowRun, TaskRun } from '../schemas/flow-run.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import * as testFlows from './support/test-flows.ts';

/** The shipped example (flows/etl.ts, flows/deployments.json) on a worker, and emitEvent inside runs. */

let t: TestEngine;
const events: ReflexEvent[] = [];

before(async () => {
  t = await startTestEngine({ services: ['outbox', 'api', 'worker'], config: { flowsModule: 'flows/index.ts' } });
  // Every event: users' and the engine's subject trees.
  for (const subject of t.rt.names.eventFilterSubjects('*')) {
    t.rt.nats.subscribe(subject, {
      callback: (_e: Error | null, msg: Msg) => {
        events.push(msg.json<ReflexEvent>());
      },
    });
  }
});
after(async () => {
  await t?.cleanup();
});

const roles = (e: ReflexEvent) => e.related.map((r) => `${r['reflex.resource.role']}:${r['reflex.resource.id']}`);

describe('example ETL flow', () => {
  it('runs its deployment with a parameter: extract, cached fan-out, subflow, custom event', async () => {
    const file = JSON.parse(readFileSync('flows/deployments.json', 'utf8')) as { deployments: Array<Record<string, unknown>> };
    const dep = await t.api<{ id: string }>('POST', '/api/deployments', file.deployments[0]);
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
    const bad = await t.api('POST', `/api/deployments/${dep.body.id}/runs`, { parameters: { date: 'yesterday' } });
    assert.equal(bad.status, 400, 'the parameter_schema refuses a malformed date when the run is created');
    const created = (await t.api<FlowRun>('POST', `/api/deployments/${dep.body.id}/runs`, { parameters: { date: '2024-06-02' } })).body;
    const run = await waitFor(async () => {
      const r = (await t.api<FlowRun & { task_runs: TaskRun[] }>('GET', `/api/flow-runs/${created.id}`)).body;
      return ['COMPLETED', 'FAILED', 'CRASHED'].includes(r.state.type) ? r : null;
    }, { timeoutMs: 20_000, what: 'the etl run' });
    assert.equal(run.state.type, 'COMPLETED', run.state.message ?? '');
    const result = run.result as { orders: number; batches: number; total_cents: number; date: string };
    assert.equal(result.date, '2024-06-02');
    assert.ok(result.orders > 0 && result.batches >= 2);
    assert.equal(run.task_runs.filter((tr) => tr.task_name === 'transform-batch').length, result.batches);
    const sub = (await t.api<{ items: FlowRun[] }>('GET', '/api/flow-runs?flow_name=load-summary')).body.items;
    assert.equal(sub[0]?.parent_flow_run_id, run.id);
    const loaded = await waitFor(() => events.find((e) => e.event === 'etl.batch.loaded'));
    assert.equal(loaded.payload.date, '2024-06-02');
    assert.equal(loaded.payload.total_cents, result.total_cents);
    assert.ok(roles(loaded).includes(`flow-run:reflex.flow-run.${run.id}`), roles(loaded).join(', '));
  });
});

describe('emitEvent inside runs', () => {
  it('adds the current flow run and task run as related resources', async () => {
    await testFlows.emitting();
    const mine = await waitFor(() => {
      const e = events.filter((ev) => ev.event === 'test.emitted');
      return e.length === 2 ? e : null;
    });
    const fromFlow = mine.find((e) => e.resource['reflex.resource.id'] === 'test.thing.flow') as ReflexEvent;
    const fromTask = mine.find((e) => e.resource['reflex.resource.id'] === 'test.thing.1') as ReflexEvent;
    const run = (await t.api<{ items: FlowRun[] }>('GET', '/api/flow-runs?flow_name=emitting')).body.items[0];
    assert.deepEqual(roles(fromFlow), [`flow-run:reflex.flow-run.${run.id}`]);
    const task = (await t.api<{ task_runs: TaskRun[] }>('GET', `/api/flow-runs/${run.id}`)).body.task_runs[0];
    assert.deepEqual(roles(fromTask), [`flow-run:reflex.flow-run.${run.id}`, `task-run:reflex.task-run.${task.id}`]);
  });
});
