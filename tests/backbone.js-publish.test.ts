import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClosedConnectionError, headers as natsHeaders, NoRespondersError, TimeoutError, type NatsConnection } from '@nats-io/nats-core';
import { JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import { loadConfig } from '../core/config.ts';
import { connectNats } from '../infra/connections.ts';
import { JetStreamPublisher } from '../infra/js-publish.ts';
import { isNatsOutage } from '../infra/unavailable.ts';
import { testNamespace } from './support/harness.ts';

/**
 * infra/js-publish.ts: JetStream publishes answered on one subscription. Stored, deduplicated by id and
 * answered as `js.publish` was; every way a publish can fail still fails, with the library's error, and
 * none waits longer than its timeout.
 */

const enc = new TextEncoder();

describe('JetStream publisher', () => {
  let nc: NatsConnection;
  const config = loadConfig(process.env, { namespace: testNamespace('jspub'), logLevel: 'silent', automationsDir: '' });
  const subject = `${config.namespace}.jspub`;
  /** Outside the stream's subjects: no JetStream answers there. */
  const plain = `${config.namespace}.plain`;
  const stream = `${config.namespace}_jspub`.replace(/[^A-Za-z0-9_-]/g, '_');

  before(async () => {
    nc = await connectNats(config.natsUrl, 5000, 'test');
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${subject}.>`], duplicate_window: 60_000_000_000 });
  });
  after(async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch(() => {});
    await nc.close();
  });

  it('stores each publish once, in order, and reports a republished id as a duplicate', async () => {
    const p = new JetStreamPublisher(nc);
    try {
      const acks = await Promise.all(Array.from({ length: 300 }, (_, i) => p.publish(`${subject}.a`, enc.encode(String(i)), `id-${i}`)));
      assert.ok(acks.every((a) => a.stream === stream && !a.duplicate));
      const seqs = acks.map((a) => a.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'sequences in publish order');
      assert.equal(new Set(seqs).size, 300);
      const again = await p.publish(`${subject}.a`, enc.encode('other bytes'), 'id-7');
      assert.equal(again.duplicate, true);
      assert.equal(again.seq, acks[7].seq, 'the duplicate names the stored message');
      const jsm = await jetstreamManager(nc);
      assert.equal((await jsm.streams.info(stream)).state.messages, 300);
      const stored = await jsm.streams.getMessage(stream, { seq: acks[7].seq });
      assert.equal(stored?.string(), '7');
      assert.equal(stored?.header.get('Nats-Msg-Id'), 'id-7');
      assert.equal(p.inFlight, 0);
    } finally {
      p.close();
    }
  });

  it('keeps the headers it is given (trace context) next to the message id', async () => {
    const p = new JetStreamPublisher(nc);
    try {
      const h = natsHeaders();
      h.set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
      const ack = await p.publish(`${subject}.h`, enc.encode('h'), 'id-h', h);
      const stored = await (await jetstreamManager(nc)).streams.getMessage(stream, { seq: ack.seq });
      assert.equal(stored?.header.get('traceparent'), '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
      assert.equal(stored?.header.get('Nats-Msg-Id'), 'id-h');
    } finally {
      p.close();
    }
  });

  it('rejects a refusal with the JetStream error, and stores nothing', async () => {
    const p = new JetStreamPublisher(nc);
    try {
      const h = natsHeaders();
      h.set('Nats-Expected-Stream', 'not-this-stream');
      const err = await p.publish(`${subject}.refused`, enc.encode('x'), 'id-refused', h).then(
        () => assert.fail('a refused publish resolved'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof JetStreamApiError, String(err));
      assert.match(err.message, /expected stream/i);
      assert.equal(isNatsOutage(err), false, 'a refusal is not an outage');
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(stream, { subjects_filter: `${subject}.refused` });
      assert.equal(Object.keys(info.state.subjects ?? {}).length, 0);
    } finally {
      p.close();
    }
  });

  it('rejects a subject no stream takes as no responders (an outage: JetStream not ready)', async () => {
    const p = new JetStreamPublisher(nc);
    try {
      const err = await p.publish(`${plain}.nostream`, enc.encode('x'), 'id-none').then(
        () => assert.fail('a publish nobody stored resolved'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof NoRespondersError, String(err));
      assert.ok(isNatsOutage(err));
    } finally {
      p.close();
    }
  });

  it('times out a publish nobody answers, and ignores the answer that comes too late', async () => {
    // A plain subscriber takes the message and answers only when told: JetStream would have answered.
    let answer: (() => void) | undefined;
    const sub = nc.subscribe(`${plain}.slow`, { callback: (_e, m) => void (answer = () => m.respond(enc.encode(JSON.stringify({ stream: 's', seq: 1 })))) });
    await nc.flush();
    const p = new JetStreamPublisher(nc, 300);
    try {
      const started = performance.now();
      const err = await p.publish(`${plain}.slow`, enc.encode('x'), 'id-slow').then(
        () => assert.fail('an unanswered publish resolved'),
        (e: unknown) => e,
      );
      const waited = performance.now() - started;
      assert.ok(err instanceof TimeoutError, String(err));
      assert.ok(isNatsOutage(err));
      assert.ok(waited >= 290 && waited < 2000, `timed out after ${waited.toFixed(0)} ms (timeout 300)`);
      assert.ok(answer, 'the subscriber got the publish');
      answer();
      await nc.flush();
      // The late answer found no waiter; the next publish is answered normally.
      const ack = await p.publish(`${subject}.after`, enc.encode('y'), 'id-after-late');
      assert.equal(ack.stream, stream);
      assert.equal(p.inFlight, 0);
    } finally {
      sub.unsubscribe();
      p.close();
    }
  });

  it('fails what is waiting when the connection closes, and every publish after it', async () => {
    const own = await connectNats(config.natsUrl, 5000, 'test-closing');
    const sub = nc.subscribe(`${plain}.never`, { callback: () => {} });
    await nc.flush();
    const p = new JetStreamPublisher(own, 60_000);
    const waiting = p.publish(`${plain}.never`, enc.encode('x'), 'id-never').then(
      () => assert.fail('resolved without an answer'),
      (e: unknown) => e,
    );
    await own.flush();
    const started = performance.now();
    await own.close();
    const err = await waiting;
    assert.ok(err instanceof ClosedConnectionError, String(err));
    assert.ok(performance.now() - started < 5000, 'failed at the close, not at the 60 s timeout');
    const after = await p.publish(`${subject}.closed`, enc.encode('x'), 'id-closed').then(
      () => assert.fail('a publish on a closed connection resolved'),
      (e: unknown) => e,
    );
    assert.ok(isNatsOutage(after), String(after));
    sub.unsubscribe();
    p.close();
  });
});
