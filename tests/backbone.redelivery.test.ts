import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AckPolicy, type JsMsg } from '@nats-io/jetstream';
import { millis, nanos } from '@nats-io/nats-core';
import { BatchConsumer } from '../infra/batch-consumer.ts';
import { ACK_WAIT_SECONDS, EventBus } from '../infra/bus.ts';
import { loadConfig } from '../core/config.ts';
import { connectNats } from '../infra/connections.ts';
import { systemEvent } from '../core/events.ts';
import { createLogger } from '../core/log.ts';
import { resetNamespace } from '../infra/reset.ts';
import { openRuntime, type Runtime } from '../infra/runtime.ts';
import { testNamespace, waitFor } from './support/harness.ts';

/**
 * The events stream's consumers redeliver what a dead process held after a short ack_wait, and never
 * what a live process is still working on: BatchConsumer signals progress for every message it holds.
 */

describe('consumers hand back what a dead process held, and only that', () => {
  let rt: Runtime;
  const log = createLogger({ level: 'silent' });

  before(async () => {
    rt = await openRuntime(loadConfig(process.env, { namespace: testNamespace('redeliver'), logLevel: 'silent', automationsDir: '' }), log);
  });
  after(async () => {
    const { bus, redis, pg } = rt;
    await resetNamespace({ bus, redis, pg }).catch(() => {});
    await rt.close();
  });

  const publish = (count: number, name: string) => rt.bus.publishMany(Array.from({ length: count }, () => systemEvent(name, { 'reflex.resource.id': 'test' })));
  const pendingOf = async (durable: string) => {
    const info = await rt.bus.jsm.consumers.info(rt.names.streams.events, durable);
    return { ackPending: info.num_ack_pending, waiting: info.num_pending, redelivered: info.num_redelivered };
  };

  it('gives consumers an ack_wait of at most 10 s, also one created with the old 30 s', async () => {
    assert.ok(ACK_WAIT_SECONDS <= 10, `ack_wait ${ACK_WAIT_SECONDS} s`);
    await rt.bus.jsm.consumers.add(rt.names.streams.events, { durable_name: 'old', ack_policy: AckPolicy.Explicit, ack_wait: nanos(30_000) });
    await rt.bus.consumer('old');
    const info = await rt.bus.jsm.consumers.info(rt.names.streams.events, 'old');
    assert.equal(millis(info.config.ack_wait ?? 0), ACK_WAIT_SECONDS * 1000);
  });

  it('does not redeliver a batch, nor the messages buffered behind it, while the handler is still working', async () => {
    const consumer = await rt.bus.consumer('slow', { ackWaitSeconds: 1 });
    await publish(5, 'slow.work');
    const deliveries: number[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const bc = new BatchConsumer(consumer, async (batch: JsMsg[]) => {
      for (const m of batch) deliveries.push(m.info.deliveryCount);
      await held;
      for (const m of batch) m.ack();
    }, log);
    await bc.start();
    await waitFor(async () => (await pendingOf('slow')).ackPending === 5, { what: 'all five delivered to the consumer' });
    // A long batch: held for 3.5 times ack_wait. Only a duration can show that nothing comes back.
    await new Promise((r) => setTimeout(r, 3500));
    assert.equal((await pendingOf('slow')).redelivered, 0, 'nothing redelivered while the handler works');
    release();
    await waitFor(async () => (await pendingOf('slow')).ackPending === 0, { what: 'the batches acknowledged' });
    await bc.stop();
    assert.deepEqual(deliveries, [1, 1, 1, 1, 1], 'each message handled once, on its first delivery');
  });

  it('redelivers what a dead consumer held to another within ack_wait', async () => {
    const nc = await connectNats(rt.config.natsUrl, 3000, 'doomed');
    try {
      const doomedBus = await EventBus.open(nc, rt.names, { retentionDays: 1, ensureStream: false });
      const consumer = await doomedBus.consumer('shared', { ackWaitSeconds: 2, deliver: 'new' });
      await new BatchConsumer(consumer, () => new Promise<void>(() => {}), log).start();
      await publish(3, 'held.work');
      await waitFor(async () => (await pendingOf('shared')).ackPending === 3, { what: 'the doomed consumer to hold all three' });
    } finally {
      // Its process dies: the connection goes, nothing is acknowledged.
      await nc.close();
    }
    const diedAt = Date.now();

    const received: Array<{ deliveryCount: number; at: number }> = [];
    const survivor = new BatchConsumer(await rt.bus.consumer('shared', { ackWaitSeconds: 2 }), async (batch: JsMsg[]) => {
      for (const m of batch) {
        received.push({ deliveryCount: m.info.deliveryCount, at: Date.now() });
        m.ack();
      }
    }, log);
    await survivor.start();
    await waitFor(() => received.length === 3, { timeoutMs: 10_000, what: 'the held messages at the survivor' });
    await survivor.stop();
    assert.deepEqual(received.map((r) => r.deliveryCount), [2, 2, 2], 'redelivered, not lost');
    const after = Math.max(...received.map((r) => r.at)) - diedAt;
    assert.ok(after < 2000 + 1500, `taken up ${after} ms after the death (ack_wait 2 s)`);
  });
});
