import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { metricInside, metricStep, type MetricMeasure, type MetricState } from '../modules/automations/index.ts';
import { AutomationInputSchema, type MetricTrigger } from '../schemas/automation.ts';
import type { FlowRun } from '../schemas/flow-run.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { openGate } from './support/test-flows.ts';

/** Metric triggers: the pure condition and step, validation, then firing once and resolving with two automation replicas. */

const trigger = (over: Partial<MetricTrigger>): MetricTrigger =>
  ({ type: 'metric', metric: 'flow-run-success-rate', range: 3600, percentile: 95, states: ['FAILED'], operator: '<', threshold: 0.95, min_samples: 1, ...over }) as MetricTrigger;

describe('metric trigger logic', () => {
  const inside: Array<[string, MetricTrigger, MetricMeasure, boolean]> = [
    ['a rate below the threshold', trigger({}), { value: 0.9, samples: 10 }, true],
    ['a rate exactly at a strict threshold is outside', trigger({}), { value: 0.95, samples: 10 }, false],
    ['<= includes the threshold', trigger({ operator: '<=' }), { value: 0.95, samples: 10 }, true],
    ['too few samples is outside', trigger({ min_samples: 20 }), { value: 0, samples: 19 }, false],
    ['no value (no runs) is outside', trigger({}), { value: null, samples: 0 }, false],
    ['a count ignores min_samples', trigger({ metric: 'flow-run-count', operator: '>=', threshold: 0, min_samples: 5 }), { value: 0, samples: 0 }, true],
    ['p95 duration over 600 s', trigger({ metric: 'flow-run-duration', operator: '>', threshold: 600 }), { value: 601, samples: 3 }, true],
  ];
  for (const [name, t, m, expected] of inside) it(name, () => assert.equal(metricInside(t, m), expected));

  it('fires once on entering, nothing while inside, resolves once on leaving', () => {
    const seq: Array<[boolean, string | null]> = [[false, null], [true, 'triggered'], [true, null], [true, null], [false, 'resolved'], [false, null], [true, 'triggered']];
    let state: MetricState | null = null;
    seq.forEach(([isInside, expected], i) => {
      const { next, fire } = metricStep(state, isInside, 1, 1000 + i);
      assert.equal(fire, expected, `step ${i}`);
      state = next;
    });
  });

  it('validates at the field: one scope, rates in 0..1, a range of at least 10 s, no nesting', () => {
    const base = { name: 'm', trigger: { type: 'metric', metric: 'flow-run-success-rate', operator: '<', threshold: 0.9, deployment: 'd' } };
    assert.ok(AutomationInputSchema.safeParse(base).success);
    const paths = (doc: unknown) => (AutomationInputSchema.safeParse(doc).error?.issues ?? []).map((i) => i.path.join('.'));
    assert.deepEqual(paths({ ...base, trigger: { ...base.trigger, threshold: 95 } }), ['trigger.threshold']);
    assert.deepEqual(paths({ ...base, trigger: { ...base.trigger, flow: 'f' } }), ['trigger.flow']);
    assert.deepEqual(paths({ ...base, trigger: { ...base.trigger, range: 0 } }), ['trigger.range']);
    assert.deepEqual(paths({ ...base, trigger: { ...base.trigger, metric: 'webhook-failure-rate' } }), ['trigger.deployment']);
    assert.deepEqual(paths({ ...base, trigger: { type: 'compound', triggers: [base.trigger] } }), ['trigger.triggers.0']);
  });
});

describe('metric triggers end to end', () => {
  let t: TestEngine;
  let replica: TestEngine;
  before(async () => {
    t = await startTestEngine({
      services: ['outbox', 'api', 'automations', 'worker'],
      config: { flowsModule: 'tests/support/test-flows.ts', workerHeartbeatSeconds: 1, metricLoopSeconds: 0.2 },
    });
    replica = await startTestEngine({ services: ['automations'], namespace: t.config.namespace, config: { metricLoopSeconds: 0.2 } });
  });
  after(async () => {
    await replica?.stop();
    await t?.cleanup();
  });

  it('fires once when runs in a state reach the threshold and resolves once when they leave it (two replicas)', async () => {
    const dep = await t.api<{ id: string }>('POST', '/api/deployments', { name: 'metric-dep', flow: 'gated' });
    assert.equal(dep.status, 201);
    const a = await t.api<{ id: string }>('POST', '/api/automations', {
      name: 'running-runs',
      trigger: { type: 'metric', metric: 'flow-run-count', states: ['RUNNING'], deployment: 'metric-dep', range: 600, operator: '>=', threshold: 1 },
      actions: [{ type: 'do-nothing' }],
      actions_on_resolve: [{ type: 'do-nothing' }],
    });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    const firings = async () => (await t.rt.pg.query<{ state: string }>('SELECT state FROM automation_firings WHERE automation_id = $1 ORDER BY fired_at', [a.body.id])).rows.map((r) => r.state);
    // Both replicas load the automation before anything happens.
    await waitFor(async () => (((t.services.find((s) => s.name === 'automations') as unknown as { isLoaded(id: string): boolean }).isLoaded(a.body.id) && (replica.services.find((s) => s.name === 'automations') as unknown as { isLoaded(id: string): boolean }).isLoaded(a.body.id)) ? true : null), { what: 'automation loaded by both replicas' });
    assert.deepEqual(await firings(), []);
    const run = (await t.api<FlowRun>('POST', `/api/deployments/${dep.body.id}/runs`, { parameters: { key: 'metric-1' } })).body;
    await waitFor(async () => ((await firings()).length >= 1 ? true : null), { timeoutMs: 15_000, what: 'the triggered firing' });
    openGate('metric-1');
    await waitFor(async () => ((await t.api<FlowRun>('GET', `/api/flow-runs/${run.id}`)).body.state.type === 'COMPLETED' ? true : null), { what: 'run completed' });
    await waitFor(async () => ((await firings()).length >= 2 ? true : null), { timeoutMs: 15_000, what: 'the resolved firing' });
    // More passes of both replicas announce nothing more.
    for (const e of [t, replica]) for (let i = 0; i < 3; i++) await (e.services.find((s) => s.name === 'automations') as unknown as { metrics: { tick(): Promise<unknown> } }).metrics.tick();
    assert.deepEqual(await firings(), ['triggered', 'resolved']);

    // The dry run reads the measure now; the backtest steps through the range as the monitor would.
    const draft = { name: 'slow-runs', trigger: { type: 'metric', metric: 'flow-run-duration', deployment: 'metric-dep', range: 600, operator: '>', threshold: 0 } };
    const dry = await t.api('POST', '/api/automations/test', { automation: draft });
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.equal(dry.body.metric.samples.length, 1);
    assert.equal(dry.body.metric.samples[0].inside, true);
    assert.equal(dry.body.metric.samples[0].samples, 1);
    const from = new Date(Date.now() - 30_000).toISOString();
    const back = await t.api('POST', '/api/automations/backtest', { automation: draft, occurred_after: from, occurred_before: new Date(Date.now() + 1000).toISOString() });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.deepEqual(back.body.metric.transitions.map((x: { state: string }) => x.state), ['triggered'], 'outside before the run ended, inside after');
  });
});
