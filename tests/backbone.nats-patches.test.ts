import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errors, RequestError, TimeoutError, type NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { loadConfig } from '../core/config.ts';
import { connectNats } from '../infra/connections.ts';
import { patchNatsFlush, patchNatsRequests } from '../infra/nats-patches.ts';
import { testNamespace } from './support/harness.ts';

/**
 * infra/nats-patches.ts: an answered request (every JetStream publish) no longer builds an Error, and a
 * request that fails still rejects with the library's own, useful error; what is sent in one turn of the
 * event loop goes in one socket write, and all of it arrives.
 */

/** Counts RequestError constructions: its constructor assigns `this.name`, which reaches a setter here. */
function countRequestErrors(): { count: () => number; restore: () => void } {
  let n = 0;
  const proto = RequestError.prototype as unknown as Record<string, unknown>;
  Object.defineProperty(proto, 'name', {
    configurable: true,
    get: () => 'RequestError',
    set(this: object, value: unknown) {
      n++;
      Object.defineProperty(this, 'name', { value, writable: true, configurable: true, enumerable: false });
    },
  });
  return { count: () => n, restore: () => void delete proto.name };
}

describe('NATS requests', () => {
  let nc: NatsConnection;
  const config = loadConfig(process.env, { namespace: testNamespace('natsreq'), logLevel: 'silent', automationsDir: '' });
  const subject = `${config.namespace}.natsreq`;
  /** Outside the test stream's subjects, which JetStream would answer. */
  const plain = `${config.namespace}.plain`;
  const stream = `${config.namespace}_natsreq`.replace(/[^A-Za-z0-9_-]/g, '_');

  before(async () => {
    nc = await connectNats(config.natsUrl, 5000, 'test');
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${subject}.>`] });
  });
  after(async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch(() => {});
    await nc.close();
  });

  it('is patched, once, on the shape the pinned nats.js has', () => {
    assert.equal(patchNatsRequests(), true);
    assert.equal(patchNatsRequests(), true);
    assert.equal(patchNatsFlush(), true);
    assert.equal(patchNatsFlush(), true);
  });

  it('writes what is published across awaits of one turn in one socket write, and delivers all of it in order', async () => {
    const receiver = await connectNats(config.natsUrl, 5000, 'test-receiver');
    try {
      const got: string[] = [];
      const sub = receiver.subscribe(`${plain}.burst`, { callback: (_err, m) => void got.push(m.string()) });
      await receiver.flush();
      const transport = (nc as unknown as { protocol: { transport: { send(frame: Uint8Array): void } } }).protocol.transport;
      const send = transport.send;
      let writes = 0;
      transport.send = function (this: unknown, frame: Uint8Array) {
        writes++;
        return send.call(this, frame);
      };
      try {
        // 100 publishes separated by awaits, as 100 handlers of one turn's I/O would send them.
        for (let i = 0; i < 100; i++) {
          nc.publish(`${plain}.burst`, String(i));
          await Promise.resolve();
        }
        await new Promise((r) => setImmediate(r));
      } finally {
        transport.send = send;
      }
      assert.equal(writes, 1, 'socket writes for 100 publishes of one turn');
      await nc.flush();
      await receiver.flush();
      const deadline = Date.now() + 5000;
      while (got.length < 100 && Date.now() < deadline) await receiver.flush();
      assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => String(i)));
      sub.unsubscribe();
    } finally {
      await receiver.close();
    }
  });

  it('publishes to JetStream without building a RequestError per publish', async () => {
    const js = jetstream(nc);
    const counter = countRequestErrors();
    try {
      const acks = await Promise.all(Array.from({ length: 200 }, (_, i) => js.publish(`${subject}.a`, new TextEncoder().encode(String(i)))));
      assert.equal(new Set(acks.map((a) => a.seq)).size, 200);
      assert.equal(counter.count(), 0, 'RequestError objects built for 200 answered publishes');
    } finally {
      counter.restore();
    }
  });

  it('sends what was published just before a close', async () => {
    const got: string[] = [];
    const sub = nc.subscribe(`${plain}.last`, { callback: (_err, m) => void got.push(m.string()) });
    await nc.flush();
    const sender = await connectNats(config.natsUrl, 5000, 'test-sender');
    sender.publish(`${plain}.last`, 'one');
    sender.publish(`${plain}.last`, 'two');
    await sender.close();
    const deadline = Date.now() + 5000;
    while (got.length < 2 && Date.now() < deadline) await nc.flush();
    sub.unsubscribe();
    assert.deepEqual(got, ['one', 'two']);
  });

  it('still rejects a request nobody answers with the library error, which says why', async () => {
    const counter = countRequestErrors();
    try {
      const err = await nc.request(`${plain}.nobody.${Date.now()}`, undefined, { timeout: 2000 }).then(
        () => assert.fail('a request without responders resolved'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof RequestError, String(err));
      assert.ok(err.isNoResponders(), err.message);
      assert.match(err.message, /no responders/i);
      assert.ok(counter.count() >= 1);
    } finally {
      counter.restore();
    }
  });

  it('still times out a request answered too late', async () => {
    const sub = nc.subscribe(`${plain}.slow`, { callback: () => {} });
    try {
      const err = await nc.request(`${plain}.slow`, undefined, { timeout: 200 }).then(
        () => assert.fail('an unanswered request resolved'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof TimeoutError, String(err));
    } finally {
      sub.unsubscribe();
    }
  });

  it('rejects a request still waiting when the connection closes', async () => {
    const other = await connectNats(config.natsUrl, 5000, 'test-close');
    const sub = other.subscribe(`${plain}.never`, { callback: () => {} });
    await other.flush();
    const pending = other.request(`${plain}.never`, undefined, { timeout: 10_000 });
    await other.flush();
    const closed = other.close();
    const err = await pending.then(
      () => assert.fail('a request resolved without an answer'),
      (e: unknown) => e,
    );
    await closed;
    sub.unsubscribe();
    assert.ok(err instanceof Error && (err instanceof RequestError || err instanceof errors.ClosedConnectionError), String(err));
  });
});
