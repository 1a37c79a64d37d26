import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ReflexEvent } from '../schemas/event.ts';
import type { FlowRun } from '../schemas/flow-run.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { PrivateNats, skipWithout } from './support/private-services.ts';
import { openGate } from './support/test-flows.ts';

/**
 * A flow run finishes while NATS is down: its last state must be committed with its outbox row, kept
 * while JetStream cannot take it, and published once (in order, after the earlier states) when NATS is
 * back. The shared NATS on 4222 serves the other test files, so this one kills a server of its own.
 */

describe('the outbox survives a NATS outage during a flow run', { skip: skipWithout.nats }, () => {
  const gateKey = `outage-${process.pid}`;
  let nats: PrivateNats | undefined;
  let t: TestEngine | undefined;

  before(async () => {
    nats = await PrivateNats.create();
    await nats.start();
    t = await startTestEngine({
      services: ['outbox', 'api', 'worker'],
      config: { natsUrl: nats.url, flowsModule: 'tests/support/test-flows.ts', workerHeartbeatSeconds: 1 },
    });
  });

  after(async () => {
    // Otherwise the worker's stop waits out its grace period on a run still holding the gate.
    openGate(gateKey);
    try {
      // Reset deletes the stream first and gives up when NATS is down, leaving the Redis keys and the schema.
      if (t && nats && !nats.running) await nats.start().catch(() => {});
      await t?.cleanup();
    } finally {
      await nats?.destroy();
    }
  });

  /** The run's state events in the stream, in stream order, with their JetStream message ids. */
  async function streamEventsOf(runId: string): Promise<Array<{ seq: number; msgId: string | undefined; event: ReflexEvent }>> {
    const engine = t as TestEngine;
    const consumer = await engine.rt.bus.js.consumers.get(engine.rt.names.streams.events, {
      filter_subjects: engine.rt.names.eventFilterSubject('reflex.flow-run.*'),
    });
    const out: Array<{ seq: number; msgId: string | undefined; event: ReflexEvent }> = [];
    for (;;) {
      const m = await consumer.next({ expires: 2000 });
      if (!m) break;
      const event = m.json<ReflexEvent>();
      if (event.resource['reflex.resource.id'] === `reflex.flow-run.${runId}`) {
        out.push({ seq: m.seq, msgId: m.headers?.get('Nats-Msg-Id'), event });
      }
      if (m.info.pending === 0) break;
    }
    await consumer.delete().catch(() => {});
    return out;
  }

  it('keeps the Completed event of a run finished while NATS is down and publishes it once when NATS is back', async (ctx) => {
    const engine = t as TestEngine;
    const server = nats as PrivateNats;
    const { pg } = engine.rt;

    const statuses: Array<{ type: string; at: number }> = [];
    void (async () => {
      for await (const s of engine.rt.nats.status()) statuses.push({ type: s.type, at: Date.now() });
    })();
    const seen = (type: string) => statuses.find((s) => s.type === type);

    const dep = await engine.api<{ id: string }>('POST', '/api/deployments', { name: 'gated-deployment', flow: 'gated', work_pool: 'default' });
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
    const created = await engine.api<FlowRun>('POST', `/api/deployments/${dep.body.id}/runs`, { parameters: { key: gateKey } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const runId = created.body.id;
    const runState = async () => (await engine.api<FlowRun>('GET', `/api/flow-runs/${runId}`)).body.state.type;
    const outboxOf = async (id: string) =>
      (await pg.query<{ name: string }>(`SELECT event->>'event' AS name FROM outbox WHERE run_id = $1 ORDER BY seq`, [id])).rows.map((r) => r.name);

    await waitFor(async () => (await runState()) === 'RUNNING', { timeoutMs: 15_000, what: 'the run to be RUNNING' });
    await waitFor(async () => (await outboxOf(runId)).length === 0, { timeoutMs: 10_000, what: 'the outbox to publish the first states' });
    assert.deepEqual(
      (await streamEventsOf(runId)).map((e) => e.event.event),
      ['reflex.flow-run.Scheduled', 'reflex.flow-run.Pending', 'reflex.flow-run.Running'],
      'the states before the outage are in the stream',
    );

    const killedAt = Date.now();
    await server.kill();
    await waitFor(() => seen('disconnect'), { timeoutMs: 10_000, what: 'the NATS client to see the server gone' });

    openGate(gateKey);
    await waitFor(async () => (await runState()) === 'COMPLETED', { timeoutMs: 15_000, what: 'the run to complete while NATS is down' });
    // The state and its outbox row commit together; with NATS down the row can only wait.
    assert.deepEqual(await outboxOf(runId), ['reflex.flow-run.Completed'], 'the Completed event waits in the outbox');

    const restartedAt = Date.now();
    await server.start();
    const reconnected = await waitFor(() => seen('reconnect'), { timeoutMs: 30_000, what: 'the NATS client to reconnect' });
    await waitFor(async () => (await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox')).rows[0].n === 0, {
      timeoutMs: 30_000,
      what: 'the outbox to be empty after NATS is back',
    });
    const drainedAt = Date.now();
    ctx.diagnostic(
      `NATS down ${restartedAt - killedAt} ms; after the restart the client reconnected in ${reconnected.at - restartedAt} ms ` +
        `and the outbox was empty in ${drainedAt - restartedAt} ms`,
    );

    const states = await pg.query<{ id: string; name: string }>('SELECT id, name FROM flow_run_states WHERE flow_run_id = $1 ORDER BY id', [runId]);
    assert.deepEqual(states.rows.map((s) => s.name), ['Scheduled', 'Pending', 'Running', 'Completed']);
    const stored = await streamEventsOf(runId);
    assert.deepEqual(
      stored.map((e) => e.event.event),
      states.rows.map((s) => `reflex.flow-run.${s.name}`),
      'each state event once, in order',
    );
    assert.deepEqual(stored.map((e) => e.event.id), states.rows.map((s) => s.id), 'event ids are the state ids');
    assert.deepEqual(stored.map((e) => e.msgId), states.rows.map((s) => s.id), 'JetStream message ids are the state ids');
    assert.ok(stored.every((e, i) => i === 0 || e.seq > stored[i - 1].seq), 'stream sequence follows the states');
    assert.equal(stored[3].event.resource['reflex.state-type'], 'COMPLETED');
  });
});
