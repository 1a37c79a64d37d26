import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { NatsConnection } from '@nats-io/nats-core';
import type { BatchHandler, ConsumedMessage } from '../infra/batch-consumer.ts';
import { EventBus, type ConsumerOptions } from '../infra/bus.ts';
import { loadConfig } from '../core/config.ts';
import { connectNats } from '../infra/connections.ts';
import { systemEvent } from '../core/events.ts';
import { createLogger, type Logger } from '../core/log.ts';
import { names } from '../core/names.ts';
import { LingeringPullConsumer, type LingeringPullOptions } from '../infra/lingering-pull.ts';
import { testNamespace, waitFor } from './support/harness.ts';

/**
 * The recorder's consumer pulls with a linger (infra/lingering-pull.ts) instead of a standing pull: it
 * must hand over what arrives as promptly as the consumer it replaces after a quiet spell, batch what
 * arrives under load, and keep every guarantee of the group-commit loop (redelivery of a failed batch,
 * progress signals for what it holds, a clean stop), on the real server.
 */

const natsUrl = loadConfig(process.env, { namespace: 'unused', logLevel: 'silent', automationsDir: '' }).natsUrl;
const silent = createLogger({ level: 'silent' });

interface Setup {
  bus: EventBus;
  publish(count: number, name?: string): Promise<number[]>;
  /** `undelivered`: not handed out yet; `pullsWaiting`: pull requests waiting at the server. */
  info(durable: string): Promise<{ ackPending: number; undelivered: number; redelivered: number; pullsWaiting: number }>;
  start(durable: string, handler: BatchHandler, options?: LingeringPullOptions & { consumer?: ConsumerOptions; log?: Logger; nc?: NatsConnection }): Promise<LingeringPullConsumer>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

/** A namespace of its own (its own stream) and a connection of its own, for one test. */
async function setup(label: string): Promise<Setup> {
  const n = names(testNamespace(label));
  const nc = await connectNats(natsUrl, 3000, `test-${label}`);
  const bus = await EventBus.open(nc, n, { retentionDays: 1 });
  cleanups.push(async () => {
    await bus.jsm.streams.delete(n.streams.events).catch(() => {});
    await nc.close();
  });
  return {
    bus,
    async publish(count, name = 'lingering.work') {
      const results = await bus.publishMany(Array.from({ length: count }, () => systemEvent(name, { 'reflex.resource.id': 'test' })));
      return results.map((r) => r.seq);
    },
    async info(durable) {
      const i = await bus.jsm.consumers.info(n.streams.events, durable);
      return { ackPending: i.num_ack_pending, undelivered: i.num_pending, redelivered: i.num_redelivered, pullsWaiting: i.num_waiting };
    },
    async start(durable, handler, options = {}) {
      const consumer = await bus.consumer(durable, options.consumer);
      const c = new LingeringPullConsumer(options.nc ?? nc, consumer, handler, options.log ?? silent, options);
      await c.start();
      cleanups.push(() => c.stop());
      return c;
    },
  };
}

const acking: (into: ConsumedMessage[][]) => BatchHandler = (into) => async (batch) => {
  into.push(batch);
  for (const m of batch) m.ack();
};

describe('pulling with a linger', () => {
  it('hands over a message published after a quiet spell at once, also once its waiting pull was renewed', async () => {
    const s = await setup('lp_idle');
    const seen: Array<{ seq: number; at: number }> = [];
    await s.start('idle', async (batch) => {
      for (const m of batch) {
        seen.push({ seq: m.seq, at: performance.now() });
        m.ack();
      }
    }, { idleWaitMs: 1500 });
    // The consumer's pull waits at the server...
    await waitFor(async () => (await s.info('idle')).pullsWaiting === 1, { what: 'a pull waiting at the server' });
    // ...for longer than its expiry: the quiet spell is the point of the test.
    await new Promise((r) => setTimeout(r, 1800));
    for (const round of [1, 2]) {
      const at = performance.now();
      const [seq] = await s.publish(1);
      await waitFor(() => seen.some((x) => x.seq === seq), { what: `message ${round} handed over` });
      const took = seen.find((x) => x.seq === seq)!.at - at;
      // Far below the pull's expiry: it is the message that answers it.
      assert.ok(took < 500, `handed over ${Math.round(took)} ms after its publish`);
      await waitFor(async () => (await s.info('idle')).pullsWaiting === 1, { what: 'the next pull waiting' });
    }
    assert.equal(seen.length, 2);
  });

  it('takes a burst of hundreds in a few batches, each message once, every one acknowledged', async () => {
    const s = await setup('lp_burst');
    const batches: ConsumedMessage[][] = [];
    await s.start('burst', acking(batches), { maxBatch: 1000 });
    await waitFor(async () => (await s.info('burst')).pullsWaiting === 1, { what: 'a pull waiting at the server' });
    const seqs = [...(await s.publish(300)), ...(await s.publish(300))];
    await waitFor(() => batches.flat().length >= seqs.length, { what: 'every message handed over' });
    await waitFor(async () => (await s.info('burst')).ackPending === 0, { what: 'every message acknowledged' });
    const handled = batches.flat().map((m) => m.seq);
    assert.equal(new Set(handled).size, handled.length, 'no message handed over twice');
    assert.deepEqual([...handled].sort((a, b) => a - b), [...seqs].sort((a, b) => a - b));
    assert.ok(batches.flat().every((m) => !m.redelivered));
    const info = await s.info('burst');
    assert.deepEqual({ ackPending: info.ackPending, undelivered: info.undelivered, redelivered: info.redelivered }, { ackPending: 0, undelivered: 0, redelivered: 0 });
    // 600 messages published over some tens of ms: one batch per pull, a pull per 20 ms.
    assert.ok(batches.length <= 40, `${batches.length} batches for ${seqs.length} messages`);
  });

  it('takes a steady trickle in one batch per linger, not one per message', async () => {
    const s = await setup('lp_trickle');
    const batches: ConsumedMessage[][] = [];
    await s.start('trickle', acking(batches), { lingerMs: 20 });
    await waitFor(async () => (await s.info('trickle')).pullsWaiting === 1, { what: 'a pull waiting at the server' });
    // The load's shape, not a synchronisation: one message every few milliseconds.
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) {
      await s.publish(1);
      await new Promise((r) => setTimeout(r, 2));
    }
    const elapsed = performance.now() - t0;
    await waitFor(() => batches.flat().length === 100, { what: 'every message handed over' });
    const allowed = Math.ceil(elapsed / 20) + 3;
    assert.ok(batches.length <= allowed, `${batches.length} batches for 100 messages over ${Math.round(elapsed)} ms (at most ${allowed})`);
  });

  it('gives each message its data, subject, headers and stream sequence, and acks through its reply', async () => {
    const s = await setup('lp_msg');
    const got: ConsumedMessage[] = [];
    const event = systemEvent('lingering.fields', { 'reflex.resource.id': 'r1' });
    const published = await s.bus.publish(event);
    const c = await s.start('fields', async (batch) => {
      got.push(...batch);
      for (const m of batch) m.ack();
    });
    await waitFor(() => got.length === 1, { what: 'the message' });
    await waitFor(async () => (await s.info('fields')).ackPending === 0, { what: 'its acknowledgement' });
    await c.stop();
    const [m] = got;
    assert.equal(m.seq, published.seq);
    assert.equal(m.subject, s.bus.names.eventSubject('lingering.fields'));
    assert.deepEqual(s.bus.decode(m.data), event);
    assert.equal(m.redelivered, false);
    assert.equal(m.headers?.get('Nats-Msg-Id'), event.id);
  });

  it('redelivers a batch whose handler throws, flagged redelivered, and hands it over again', async () => {
    const s = await setup('lp_throw');
    const seqs = await s.publish(5);
    const tries: Array<Array<{ seq: number; redelivered: boolean }>> = [];
    await s.start('throw', async (batch) => {
      tries.push(batch.map((m) => ({ seq: m.seq, redelivered: m.redelivered })));
      if (tries.length === 1) throw new Error('the database is away');
      for (const m of batch) m.ack();
    }, { retryDelayMs: 100 });
    // Well within ack_wait (8 s): the failed batch was naked, not left to expire.
    await waitFor(async () => (await s.info('throw')).ackPending === 0 && (await s.info('throw')).undelivered === 0 && tries.length > 1, { timeoutMs: 4000, what: 'every message acknowledged' });
    const [failed, ...rest] = tries;
    assert.ok(failed.length > 0);
    const again = rest.flat().filter((m) => failed.some((f) => f.seq === m.seq));
    assert.deepEqual(again.map((m) => m.seq), failed.map((m) => m.seq), 'the failed batch handed over again');
    assert.ok(again.every((m) => m.redelivered), 'flagged redelivered');
    assert.deepEqual([...new Set(rest.flat().map((m) => m.seq))].sort((a, b) => a - b), seqs);
  });

  it('keeps what it holds, in the handler or buffered behind it, from redelivery while the handler is slow', async () => {
    const s = await setup('lp_slow');
    await s.publish(5);
    const deliveries: boolean[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    await s.start('slow', async (batch) => {
      for (const m of batch) deliveries.push(m.redelivered);
      await held;
      for (const m of batch) m.ack();
    }, { consumer: { ackWaitSeconds: 2 }, maxBatch: 2 });
    try {
      await waitFor(async () => (await s.info('slow')).ackPending === 5, { what: 'all five pulled' });
      // Held for 1.5 times ack_wait: only a duration can show that nothing comes back.
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal((await s.info('slow')).redelivered, 0, 'nothing redelivered while the handler works');
    } finally {
      release();
    }
    await waitFor(async () => (await s.info('slow')).ackPending === 0, { what: 'all acknowledged' });
    assert.deepEqual(deliveries, [false, false, false, false, false], 'each handed over once, on its first delivery');
  });

  it('stops at once when idle, and then takes nothing more: the server keeps it for the next consumer', async () => {
    const s = await setup('lp_stop');
    const first: ConsumedMessage[][] = [];
    const c = await s.start('stop', acking(first));
    await waitFor(async () => (await s.info('stop')).pullsWaiting === 1, { what: 'a pull waiting at the server' });
    const t0 = performance.now();
    await c.stop();
    const took = performance.now() - t0;
    assert.ok(took < 500, `stop() took ${Math.round(took)} ms`);
    const [seq] = await s.publish(1);
    // Another consumer of the same durable gets it on its first delivery: the stopped one never did.
    const second: ConsumedMessage[][] = [];
    await s.start('stop', acking(second));
    await waitFor(() => second.flat().length === 1, { what: 'the message at the next consumer' });
    assert.equal(second[0][0].seq, seq);
    assert.equal(second[0][0].redelivered, false);
    assert.equal(first.length, 0, 'nothing handed over after stop()');
  });

  it('finishes the batch in hand on stop()', async () => {
    const s = await setup('lp_stopbusy');
    await s.publish(3);
    const handled: number[] = [];
    let inHandler = false;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const c = await s.start('busy', async (batch) => {
      inHandler = true;
      await held;
      for (const m of batch) {
        handled.push(m.seq);
        m.ack();
      }
    });
    let stopped: Promise<void> | undefined;
    try {
      await waitFor(() => inHandler, { what: 'a batch in the handler' });
      stopped = c.stop();
    } finally {
      release();
    }
    await stopped;
    assert.equal(handled.length, 3, 'what was received is handled before stop() returns');
    await waitFor(async () => (await s.info('busy')).ackPending === 0, { what: 'the batch acknowledged' });
  });

  it('survives its consumer deleted and made again', async () => {
    const s = await setup('lp_deleted');
    const batches: ConsumedMessage[][] = [];
    await s.start('phoenix', acking(batches), { retryDelayMs: 100, idleWaitMs: 1000 });
    await waitFor(async () => (await s.info('phoenix')).pullsWaiting === 1, { what: 'a pull waiting at the server' });
    await s.bus.jsm.consumers.delete(s.bus.names.streams.events, 'phoenix');
    await s.bus.consumer('phoenix', { deliver: 'new' });
    const [seq] = await s.publish(1);
    await waitFor(() => batches.flat().some((m) => m.seq === seq), { timeoutMs: 15_000, what: 'the message at the consumer made again' });
  });

  it('does not throw when the connection closes under a batch; the server redelivers it', async () => {
    const s = await setup('lp_closed');
    const nc = await connectNats(natsUrl, 3000, 'test-lp-doomed');
    let inHandler = false;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let acked = false;
    const c = await s.start('doomed', async (batch) => {
      inHandler = true;
      await held;
      for (const m of batch) m.ack();
      acked = true;
    }, { nc, consumer: { ackWaitSeconds: 1 } });
    await s.publish(2);
    try {
      await waitFor(() => inHandler, { what: 'a batch in the handler' });
      await nc.close();
    } finally {
      release();
    }
    await c.stop();
    assert.ok(acked, 'the acks after the close returned');
    const again: ConsumedMessage[][] = [];
    await s.start('doomed', acking(again), { consumer: { ackWaitSeconds: 1 } });
    await waitFor(() => again.flat().length >= 2, { what: 'the batch redelivered' });
    assert.ok(again.flat().every((m) => m.redelivered));
  });
});
