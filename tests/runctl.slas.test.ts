import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { evaluateSlas, slaEventId, slaTransitions, type SlaFacts, type SlaViolation } from '../modules/runs/index.ts';
import type { DeploymentSla } from '../schemas/deployment.ts';
import type { FlowRun } from '../schemas/flow-run.ts';
import type { SchedulerService } from '../services/scheduler/main.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { openGate } from './support/test-flows.ts';

/** Deployment SLAs: the pure evaluation with a fake clock, then violated → resolved end to end with two schedulers. */

const S = 1000;
const T0 = 1_900_000_000_000;

function facts(slas: DeploymentSla[], extra: Partial<SlaFacts> = {}): SlaFacts {
  return { deployment: { id: 'd', created: T0, slas }, running: [], waiting: [], lastCompleted: null, lastEvent: new Map(), ...extra };
}

describe('SLA evaluation (fake clock)', () => {
  const rows: Array<{ name: string; facts: SlaFacts; now: number; expect: Array<[string, number]> }> = [
    { name: 'time to completion: exactly at the limit is a violation', facts: facts([{ type: 'time-to-completion', seconds: 10 }], { running: [{ id: 'r', name: 'r', at: T0 }] }), now: T0 + 10 * S, expect: [['0|r', T0 + 10 * S]] },
    { name: 'time to completion: just before the limit is not', facts: facts([{ type: 'time-to-completion', seconds: 10 }], { running: [{ id: 'r', name: 'r', at: T0 }] }), now: T0 + 10 * S - 1, expect: [] },
    { name: 'lateness: a run not started after its scheduled time + allowance', facts: facts([{ type: 'lateness', seconds: 5 }], { waiting: [{ id: 'w', name: 'w', at: T0 }, { id: 'x', name: 'x', at: T0 + 3 * S }] }), now: T0 + 6 * S, expect: [['0|w', T0 + 5 * S]] },
    { name: 'frequency: counted from the deployment creation before any completion', facts: facts([{ type: 'frequency', seconds: 60 }]), now: T0 + 60 * S, expect: [['0|deployment', T0 + 60 * S]] },
    { name: 'frequency: a recent completion keeps it met', facts: facts([{ type: 'frequency', seconds: 60 }], { lastCompleted: T0 + 30 * S }), now: T0 + 80 * S, expect: [] },
    { name: 'freshness: never violated before the first event', facts: facts([{ type: 'freshness', seconds: 10, event: 'orders.exported' }]), now: T0 + 1e6, expect: [] },
    {
      name: 'freshness: an event not followed by a completion within the allowance',
      facts: facts([{ type: 'freshness', seconds: 10, event: 'orders.exported' }], { lastCompleted: T0, lastEvent: new Map([['orders.exported', T0 + S]]) }),
      now: T0 + 11 * S,
      expect: [['0|deployment', T0 + 11 * S]],
    },
    {
      name: 'freshness: a completion after the event meets it',
      facts: facts([{ type: 'freshness', seconds: 10, event: 'orders.exported' }], { lastCompleted: T0 + 2 * S, lastEvent: new Map([['orders.exported', T0 + S]]) }),
      now: T0 + 60 * S,
      expect: [],
    },
    {
      name: 'several SLAs: each violation is named by its index and subject',
      facts: facts([{ type: 'lateness', seconds: 1 }, { type: 'time-to-completion', seconds: 1 }], { running: [{ id: 'r', name: 'r', at: T0 }], waiting: [{ id: 'w', name: 'w', at: T0 }] }),
      now: T0 + 2 * S,
      expect: [['0|w', T0 + S], ['1|r', T0 + S]],
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(evaluateSlas(row.facts, row.now).map((v) => [v.field, v.since]), row.expect);
    });
  }

  it('announces only changes, with ids every replica derives alike', () => {
    const v = (field: string, since: number): SlaViolation => ({ field, index: 0, type: 'lateness', since, run: null, detail: '' });
    const remembered = new Map([['0|a', v('0|a', 1)], ['0|b', v('0|b', 2)]]);
    const t = slaTransitions(remembered, [v('0|b', 2), v('0|c', 3)]);
    assert.deepEqual(t.violated.map((x) => x.field), ['0|c']);
    assert.deepEqual(t.resolved.map((x) => x.field), ['0|a']);
    assert.equal(slaEventId('d', v('0|a', 1), 'violated'), slaEventId('d', v('0|a', 1), 'violated'));
    assert.notEqual(slaEventId('d', v('0|a', 1), 'violated'), slaEventId('d', v('0|a', 1), 'resolved'));
    assert.notEqual(slaEventId('d', v('0|a', 1), 'violated'), slaEventId('d', v('0|a', 2), 'violated'), 'a later violation of the same subject is a new event');
  });
});

describe('SLAs end to end', () => {
  let t: TestEngine;
  let replica: TestEngine;
  before(async () => {
    t = await startTestEngine({
      services: ['outbox', 'api', 'recorder', 'worker', 'scheduler'],
      config: { flowsModule: 'tests/support/test-flows.ts', workerHeartbeatSeconds: 1, slaLoopSeconds: 0.2 },
    });
    replica = await startTestEngine({ services: ['scheduler'], namespace: t.config.namespace, config: { slaLoopSeconds: 0.2 } });
  });
  after(async () => {
    await replica?.stop();
    await t?.cleanup();
  });

  async function stored(event: string, deploymentId: string): Promise<Array<{ id: string; related: Array<Record<string, string>> }>> {
    const res = await t.rt.pg.query(`SELECT id, related FROM events WHERE event = $1 AND resource->>'reflex.resource.id' = $2`, [event, `reflex.deployment.${deploymentId}`]);
    return res.rows;
  }

  it('a run over its time to completion is violated once, and resolved once when it ends (two schedulers)', async () => {
    const created = await t.api<{ id: string }>('POST', '/api/deployments', { name: 'sla-ttc', flow: 'gated', slas: [{ type: 'time-to-completion', seconds: 1 }] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const d = created.body.id;
    const run = (await t.api<FlowRun>('POST', `/api/deployments/${d}/runs`, { parameters: { key: 'sla-1' } })).body;
    const violated = await waitFor(async () => {
      const rows = await stored('reflex.sla.violated', d);
      return rows.length ? rows : null;
    }, { timeoutMs: 15_000, what: 'reflex.sla.violated' });
    assert.ok(violated[0].related.some((r) => r['reflex.resource.id'] === `reflex.flow-run.${run.id}` && r['reflex.resource.role'] === 'flow-run'), 'the run is a related resource');
    openGate('sla-1');
    await waitFor(async () => ((await stored('reflex.sla.resolved', d)).length ? true : null), { timeoutMs: 15_000, what: 'reflex.sla.resolved' });
    // Several more passes of both schedulers: nothing more is announced.
    const passes = [t, replica].map((e) => e.services.find((s) => s.name === 'scheduler') as unknown as SchedulerService);
    for (let i = 0; i < 3; i++) await Promise.all(passes.map((p) => p.slas.tick()));
    assert.equal((await stored('reflex.sla.violated', d)).length, 1);
    assert.equal((await stored('reflex.sla.resolved', d)).length, 1);
    const jsm = await jetstreamManager(t.rt.nats);
    const info = await jsm.streams.info(t.rt.names.streams.events, { subjects_filter: t.rt.names.eventSubject('reflex.sla.>') });
    const subjects = info.state.subjects ?? {};
    assert.equal(subjects[t.rt.names.eventSubject('reflex.sla.violated')], 1, 'one violated message in the stream');
    assert.equal(subjects[t.rt.names.eventSubject('reflex.sla.resolved')], 1, 'one resolved message in the stream');
  });
});
